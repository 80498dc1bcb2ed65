"""Quiet hours, weekly caps, cooldowns and one-live-per-item hold over random event sequences.

A household's fridge is driven through random steps (time passing, items arriving, leaving and
emptying, proposals accepted and dismissed, opt-in and mutes toggled) with random offers (quiet
hours that may wrap midnight, caps, cooldowns, validity windows, discounts) in a random time
zone. After every step the pure planner runs, its plan is applied, and every proposal ever made
is checked against oracles written independently of the rules module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from freshtap.server.domain.offers import (
    Dismissal,
    HouseholdContext,
    ItemView,
    LiveProposal,
    OfferRule,
    PastProposal,
    choose,
    effective_price,
    plan_proposals,
)

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ZONES = ["UTC", "Asia/Shanghai", "America/New_York", "Pacific/Chatham", "Asia/Kolkata", "Europe/London"]
GTINS = ["09506000134352", "04006381333931"]
CATEGORIES = ["dairy", "produce"]
ITEM_IDS = ["a", "b", "c", "d"]
TTL = timedelta(hours=24)


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def quiet_oracle(start: time | None, end: time | None, local: datetime) -> bool:
    """Quiet hours by minutes since midnight, written apart from the rules module."""
    if start is None or end is None or start == end:
        return False
    now = local.hour * 60 + local.minute + local.second / 60 + local.microsecond / 60e6
    s, e = _minutes(start), _minutes(end)
    if s < e:
        return s <= now < e
    return now >= s or now < e


@st.composite
def offers(draw: st.DrawFn) -> list[OfferRule]:
    made = []
    for n in range(draw(st.integers(1, 3))):
        by = draw(st.sampled_from(["gtin", "category"]))
        quiet = draw(st.none() | st.tuples(st.times(), st.times()))
        windowed = draw(st.integers(0, 3)) == 0
        valid_from = draw(st.none() | st.integers(-48, 96).map(lambda h: T0 + timedelta(hours=h))) if windowed else None
        start = valid_from or T0
        valid_until = (
            draw(st.none() | st.integers(1, 240).map(lambda h, start=start: start + timedelta(hours=h)))
            if windowed
            else None
        )
        kind = draw(st.sampled_from(["expiring", "low_fill"]))
        made.append(
            OfferRule(
                offer_id=f"off_{n}",
                merchant_id=f"m_{n}",
                product_id=f"prd_{n}",
                match_gtin=draw(st.sampled_from(GTINS)) if by == "gtin" else None,
                match_category=draw(st.sampled_from(CATEGORIES)) if by == "category" else None,
                trigger_kind=kind,
                within_hours=48.0 if kind == "expiring" else None,
                below=0.5 if kind == "low_fill" else None,
                price_minor=draw(st.integers(0, 3000)),
                currency="CNY",
                created_at=T0 - timedelta(days=draw(st.integers(0, 5))),
                max_per_household_per_week=draw(st.none() | st.integers(1, 3)),
                quiet_start=quiet[0].replace(second=0, microsecond=0) if quiet else None,
                quiet_end=quiet[1].replace(second=0, microsecond=0) if quiet else None,
                discount_percent=draw(st.none() | st.floats(1, 100)),
                discount_minor=draw(st.none() | st.integers(1, 5000)),
                valid_from=valid_from,
                valid_until=valid_until,
                cooldown_hours=draw(st.sampled_from([0.0, 1.0, 24.0, 72.0, 200.0])),
            )
        )
    return made


_advance = st.tuples(st.just("advance"), st.integers(1, 2 * 24 * 60))
_add = st.tuples(st.just("add"), st.integers(0, len(ITEM_IDS) - 1), st.integers(0, 3), st.integers(-24, 96))
_dismiss = st.tuples(st.just("dismiss"), st.integers(0, 10))
# Branches repeat to weight them: time, new items and dismissals drive the rules the most.
events = st.one_of(
    _advance,
    _advance,
    _advance,
    _add,
    _add,
    _dismiss,
    _dismiss,
    st.tuples(st.just("remove"), st.integers(0, len(ITEM_IDS) - 1)),
    st.tuples(st.just("fill"), st.integers(0, len(ITEM_IDS) - 1), st.floats(0, 1)),
    st.tuples(st.just("accept"), st.integers(0, 10)),
    st.tuples(st.just("opt"), st.sampled_from([True, True, False])),
    st.tuples(st.just("mute"), st.sampled_from([*CATEGORIES, None])),
)


@dataclass
class Made:
    offer: OfferRule
    item: ItemView
    at: datetime
    key: str
    opted_in: bool
    muted: frozenset[str]


@dataclass
class Fridge:
    zone: ZoneInfo
    offers: list[OfferRule]
    now: datetime = T0
    items: dict[str, ItemView] = field(default_factory=dict)
    bought: set[str] = field(default_factory=set)
    live: list[LiveProposal] = field(default_factory=list)
    made: list[Made] = field(default_factory=list)
    dismissals: list[Dismissal] = field(default_factory=list)
    made_before: list[int] = field(default_factory=list)
    """Per dismissal: how many proposals had been made when it happened (only later ones count)."""
    opted_in: bool = True
    muted: frozenset[str] = frozenset()

    def step(self, event: tuple[object, ...]) -> None:
        kind = event[0]
        if kind == "advance":
            self.now += timedelta(minutes=int(event[1]))  # type: ignore[call-overload]
        elif kind == "add":
            item_id = ITEM_IDS[int(event[1])]  # type: ignore[call-overload]
            variant = int(event[2])  # type: ignore[call-overload]
            self.items[item_id] = ItemView(
                item_id=item_id,
                name=item_id,
                gtin=GTINS[variant % 2] if variant < 2 else None,
                category=CATEGORIES[variant // 2],
                fill=1.0,
                expires_at=self.now + timedelta(hours=int(event[3])),  # type: ignore[call-overload]
            )
            self.bought.discard(item_id)
        elif kind == "remove":
            self.items.pop(ITEM_IDS[int(event[1])], None)  # type: ignore[call-overload]
        elif kind == "fill":
            item = self.items.get(ITEM_IDS[int(event[1])])  # type: ignore[call-overload]
            if item is not None:
                self.items[item.item_id] = ItemView(**{**item.__dict__, "fill": float(event[2])})  # type: ignore[arg-type]
        elif kind in ("accept", "dismiss") and self.live:
            chosen = self.live[int(event[1]) % len(self.live)]  # type: ignore[call-overload]
            self.live.remove(chosen)
            if kind == "accept":
                self.bought.add(chosen.item_id)
            else:
                key = next(m.key for m in reversed(self.made) if m.item.item_id == chosen.item_id)
                self.dismissals.append(Dismissal(chosen.offer_id, key, self.now))
                self.made_before.append(len(self.made))
        elif kind == "opt":
            self.opted_in = bool(event[1])
        elif kind == "mute":
            self.muted = frozenset() if event[1] is None else self.muted ^ {str(event[1])}
        self.plan()

    def plan(self) -> None:
        household = HouseholdContext(
            zone=self.zone,
            opted_in=self.opted_in,
            muted_categories=self.muted,
            recent=tuple(PastProposal(m.offer.offer_id, m.at) for m in self.made),
            dismissals=tuple(self.dismissals),
        )
        items = [i for i in self.items.values() if i.item_id not in self.bought]
        plan = plan_proposals(items, self.offers, self.live, self.now, household)
        gone = set(plan.withdraw)
        assert gone <= {p.proposal_id for p in self.live}
        self.live = [p for p in self.live if p.proposal_id not in gone]
        for new in plan.create:
            n = len(self.made)
            expires = self.now + TTL
            if new.offer.valid_until is not None:
                expires = min(expires, new.offer.valid_until)
            self.live.append(LiveProposal(f"p{n}", new.item.item_id, new.offer.offer_id, expires))
            key = new.item.gtin or f"category:{new.item.category}"
            self.made.append(Made(new.offer, new.item, self.now, key, self.opted_in, self.muted))
            assert 0 <= new.price_minor <= new.offer.price_minor
        # Never two live proposals for one item.
        live_items = [p.item_id for p in self.live]
        assert len(live_items) == len(set(live_items)), live_items


def check_history(fridge: Fridge) -> None:
    for n, m in enumerate(fridge.made):
        offer = m.offer
        local = m.at.astimezone(fridge.zone)
        assert not quiet_oracle(offer.quiet_start, offer.quiet_end, local), (offer, local)
        assert m.opted_in
        assert m.item.category not in m.muted
        assert offer.valid_from is None or offer.valid_from <= m.at
        assert offer.valid_until is None or m.at < offer.valid_until
        # The cap, over the rolling 7 days ending at each proposal (so over any 7-day window).
        cap = offer.max_per_household_per_week
        if cap is not None:
            window = [
                o for o in fridge.made if o.offer.offer_id == offer.offer_id and m.at - timedelta(days=7) <= o.at <= m.at
            ]
            assert len(window) <= cap, (cap, [o.at for o in window])
        # No proposal within the cooldown after a dismissal of the same offer for the same key.
        for d, before in zip(fridge.dismissals, fridge.made_before, strict=True):
            if n >= before and d.offer_id == offer.offer_id and d.item_key == m.key:
                assert not (d.at <= m.at < d.at + timedelta(hours=offer.cooldown_hours)), (d, m.at)


@settings(max_examples=200, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    rules=offers(),
    stock=st.lists(_add, min_size=2, max_size=4),
    steps=st.lists(events, min_size=5, max_size=40),
)
def test_rules_hold_over_random_event_sequences(
    zone: str, rules: list[OfferRule], stock: list[tuple[object, ...]], steps: list[tuple[object, ...]]
) -> None:
    fridge = Fridge(ZoneInfo(zone), rules)
    for event in [*stock, *steps]:
        fridge.step(event)
    check_history(fridge)


@settings(max_examples=200, deadline=None)
@given(rules=offers(), data=st.data())
def test_the_choice_is_deterministic_and_cheapest(rules: list[OfferRule], data: st.DataObject) -> None:
    shuffled = data.draw(st.permutations(rules))
    first, why = choose(rules)
    again, why_again = choose(shuffled)
    assert (first.offer_id, why) == (again.offer_id, why_again)
    assert effective_price(first) == min(effective_price(o) for o in rules)
    assert why.startswith("the only matching offer" if len(rules) == 1 else f"cheapest of {len(rules)} matching offers")
