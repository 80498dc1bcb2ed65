"""The offer rules one at a time: matching, discounts, the explained choice, previews."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from freshtap.server.domain.offers import (
    Dismissal,
    HouseholdContext,
    ItemView,
    LiveProposal,
    OfferRule,
    PastProposal,
    PreviewItem,
    block_for,
    choose,
    effective_price,
    item_key,
    matches,
    plan_proposals,
    preview_offer,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
MILK = ItemView("milk", "Whole milk 1 L", "09506000134352", "Dairy", 0.2, NOW + timedelta(hours=10),
                foodkeeper_product_id=7)
RULE = OfferRule("off_a", "m_a", "prd_a", MILK.gtin, None, "expiring", 48.0, None, 1290, "CNY", NOW)


def test_matching_by_gtin_category_or_foodkeeper() -> None:
    assert matches(RULE, MILK)
    assert matches(replace(RULE, match_gtin=None, match_category="dairy"), MILK)
    assert matches(replace(RULE, match_gtin=None, match_foodkeeper=7), MILK)
    assert not matches(replace(RULE, match_gtin=None, match_foodkeeper=8), MILK)
    assert not matches(replace(RULE, match_gtin=None), MILK)
    assert item_key(MILK) == MILK.gtin
    assert item_key(replace(MILK, gtin=None)) == "category:dairy"


def test_discounts_round_half_up_and_never_go_below_zero() -> None:
    assert effective_price(replace(RULE, discount_percent=15)) == 1096  # 193.5 off rounds to 194
    assert effective_price(replace(RULE, discount_percent=100)) == 0
    assert effective_price(replace(RULE, discount_minor=290)) == 1000
    assert effective_price(replace(RULE, discount_minor=5000)) == 0


def test_the_choice_says_what_decided_it() -> None:
    cheaper = replace(RULE, offer_id="off_b", price_minor=990)
    assert choose([RULE, cheaper]) == (cheaper, "cheapest of 2 matching offers")
    ending = replace(RULE, offer_id="off_c", valid_until=NOW + timedelta(days=1))
    assert choose([RULE, ending]) == (ending, "cheapest of 2 matching offers (tied on price; ends soonest)")
    older = replace(RULE, offer_id="off_d", created_at=NOW - timedelta(days=1))
    assert choose([RULE, older]) == (older, "cheapest of 2 matching offers (tied on price; listed first)")
    twin = replace(RULE, offer_id="off_0")
    assert choose([RULE, twin]) == (twin, "cheapest of 2 matching offers (tied on price; lowest offer id)")
    assert choose([RULE]) == (RULE, "the only matching offer")


def test_blocks_come_in_a_fixed_order() -> None:
    quiet = replace(RULE, quiet_start=time(11), quiet_end=time(13), max_per_household_per_week=1, cooldown_hours=1)
    household = HouseholdContext(
        zone=ZoneInfo("UTC"),
        recent=(PastProposal("off_a", NOW - timedelta(days=6)),),
        dismissals=(Dismissal("off_a", MILK.gtin or "", NOW - timedelta(minutes=30)),),
    )
    assert block_for(quiet, MILK, replace(household, opted_in=False), NOW) == "opted_out"
    assert block_for(quiet, MILK, replace(household, muted_categories=frozenset({"dairy"})), NOW) == "muted"
    assert block_for(replace(quiet, valid_until=NOW), MILK, household, NOW) == "outside_validity"
    assert block_for(quiet, MILK, household, NOW) == "cooldown"
    assert block_for(quiet, MILK, replace(household, dismissals=()), NOW) == "weekly_cap"
    assert block_for(quiet, MILK, replace(household, dismissals=(), recent=()), NOW) == "quiet_hours"
    # 12:00 UTC is 20:00 in Shanghai: outside 11:00-13:00 there.
    assert block_for(quiet, MILK, HouseholdContext(zone=ZoneInfo("Asia/Shanghai")), NOW) is None


def test_a_plan_never_opens_two_for_one_item_and_withdraws_what_no_longer_applies() -> None:
    rules = [RULE, replace(RULE, offer_id="off_b", price_minor=990)]
    plan = plan_proposals([MILK], rules, [], NOW)
    [new] = plan.create
    assert (new.offer.offer_id, new.price_minor, new.explanation) == ("off_b", 990, "cheapest of 2 matching offers")
    live = [LiveProposal("p1", "milk", "off_a", NOW + timedelta(hours=1))]
    assert plan_proposals([MILK], rules, live, NOW).create == ()  # kept, even though off_b is cheaper
    muted = HouseholdContext(muted_categories=frozenset({"dairy"}))
    assert plan_proposals([MILK], rules, live, NOW, muted).withdraw == ("p1",)
    late = [replace(RULE, valid_until=NOW)]
    assert plan_proposals([MILK], late, live, NOW).withdraw == ("p1",)


def test_preview_lists_only_triggered_matches_with_a_reason() -> None:
    fresh = replace(MILK, item_id="fresh", expires_at=NOW + timedelta(days=9))
    rival = replace(RULE, offer_id="off_b", price_minor=990)
    entries = [
        PreviewItem("f-1", MILK, HouseholdContext(), competitors=(rival,)),
        PreviewItem("f-2", MILK, HouseholdContext(), competitors=()),
        PreviewItem("f-3", fresh, HouseholdContext()),
        PreviewItem("f-4", MILK, HouseholdContext(), live_offer_id="off_a"),
        PreviewItem("f-5", MILK, HouseholdContext(opted_in=False)),
    ]
    got = {m.fridge_id: (m.eligible, m.blocked_by, m.explanation) for m in preview_offer(RULE, entries, NOW)}
    assert got == {
        "f-1": (False, "better_offer", "another offer wins (cheapest of 2 matching offers)"),
        "f-2": (True, None, "the only matching offer"),
        "f-4": (True, None, "shown now"),
        "f-5": (False, "opted_out", "the household has not opted in to offers"),
    }
