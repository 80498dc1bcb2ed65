"""What freshtap changes for households: one scenario and seed run twice, with and without it.

A day-by-day model of each household's fridge over the scenario's period (no MQTT, no server: a
year of 1,000 households is millions of item-days, far beyond what the live stack is for). Each
household has its own random streams, seeded from `(seed, household)`, drawn the same way in both
runs, so the two runs differ only where freshtap changes a decision:

- *Without*: the household shops every `shop_every_days`, buying enough packages of each product
  to last until the next shop (but not more than keeps to its date, on average) and sometimes one
  more (`overbuy`), uses an opened package first, otherwise the oldest
  with chance `fifo` and any other package otherwise, and throws a package out
  `discard_after_days` after its date. Days away on holiday use nothing.
- *With*: the same, plus two things freshtap does. A **use-soon nudge** for a package within
  `offer.expiring_within_days` of its date, after which the household uses that package first
  with chance `nudge_follow` and uses `nudge_extra_use` more of it that day. A **runout offer**
  when what is left of a product is forecast to last less than `offer.runout_within_days`;
  accepted with chance `offer_accept_base + offer_accept_per_discount * discount`, delivered after
  `delivery_days`; a dismissed offer is not shown again for three days (the cooldown). Delivered
  orders may get an approved review, whose referral link brings orders from new households.

Everything the model assumes about behaviour is in the scenario file with its source, and the
report prints it. Shelf lives come from the simulator's catalog (hours from purchase to the label
date), not from the live shelf-life model: packages are judged by their label date here.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import timedelta

from .catalog import Product
from .scenario import Profile, Scenario

__all__ = ["Outcome", "compare", "run_outcome"]

_NEARLY_GONE = 0.15
_DISMISS_COOLDOWN_DAYS = 3


@dataclass
class Outcome:
    label: str
    nudges_on: bool
    offers_on: bool
    households: int
    days: int
    items_bought: int = 0
    items_used_up: int = 0
    stockout_days: int = 0
    """Product-days on which the household wanted a product and had none."""
    items_wasted: int = 0
    money_spent_minor: int = 0
    money_wasted_minor: int = 0
    nudges: int = 0
    offers_shown: int = 0
    orders: int = 0
    taps: int = 0
    charges: int = 0
    reviews_approved: int = 0
    referral_orders: int = 0
    wasted_by_month: list[int] = field(default_factory=lambda: [0] * 12)

    @property
    def charges_per_order(self) -> float:
        return self.charges / self.orders if self.orders else 0.0

    @property
    def waste_share(self) -> float:
        return self.items_wasted / self.items_bought if self.items_bought else 0.0


@dataclass
class _Package:
    product: int
    bought: float
    expires: float
    """Day (from the start, fractional) after which the label date has passed."""
    fill: float = 1.0
    opened: bool = False


class _Household:
    def __init__(self, scenario: Scenario, index: int, profile: Profile, nudges: bool, offers: bool) -> None:
        self.profile = profile
        self.nudges_on = nudges
        self.offers_on = offers
        seed = f"{scenario.seed}:{index}"
        self.demand = random.Random(f"{seed}:demand")
        self.stock_rng = random.Random(f"{seed}:stock")
        self.choice = random.Random(f"{seed}:choice")
        self.offers = random.Random(f"{seed}:offers")
        plan = random.Random(f"{seed}:plan")
        self.shop_offset = plan.randrange(profile.shop_every_days)
        self.away: set[int] = set()
        remaining = profile.holiday_days
        trips = 2 if remaining >= 14 else 1
        for trip in range(trips):
            length = remaining if trip == trips - 1 else remaining // 2
            begin = plan.randrange(0, max(1, scenario.days - length))
            self.away.update(range(begin, begin + length))
            remaining -= length
        self.stock: list[_Package] = []
        self.pending: dict[int, int] = {}
        """Product index -> delivery day of its open order."""
        self.cooldown: dict[int, int] = {}


def _profile_for(scenario: Scenario, index: int) -> Profile:
    total = sum(p.share for p in scenario.profiles)
    point = random.Random(f"{scenario.seed}:{index}:profile").random() * total
    for profile in scenario.profiles:
        point -= profile.share
        if point < 0:
            return profile
    return scenario.profiles[-1]


def _daily_use(product: Product, profile: Profile) -> float:
    return product.use_per_day * profile.appetite


def run_outcome(scenario: Scenario, *, nudges: bool, offers: bool, label: str = "") -> Outcome:
    """Run every household over the scenario's days; deterministic for a scenario and seed."""
    outcome = Outcome(label=label, nudges_on=nudges, offers_on=offers, households=scenario.households,
                      days=scenario.days)
    for index in range(scenario.households):
        household = _Household(scenario, index, _profile_for(scenario, index), nudges, offers)
        _run_household(scenario, household, outcome)
    return outcome


def compare(scenario: Scenario) -> tuple[Outcome, Outcome, Outcome]:
    """The same scenario and seed run three times: without freshtap, with its nudges only, with all of it."""
    return (
        run_outcome(scenario, nudges=False, offers=False, label="without freshtap"),
        run_outcome(scenario, nudges=True, offers=False, label="nudges only"),
        run_outcome(scenario, nudges=True, offers=True, label="with freshtap"),
    )


def _buy(scenario: Scenario, household: _Household, product_index: int, day: float, outcome: Outcome,
         price_factor: float = 1.0) -> None:
    product = household.profile.products[product_index]
    low, high = product.label_hours
    expires = day + household.stock_rng.uniform(low, high) / 24
    household.stock.append(_Package(product_index, day, expires))
    outcome.items_bought += 1
    outcome.money_spent_minor += round(scenario.prices_minor[product.name] * price_factor)


def _run_household(scenario: Scenario, household: _Household, outcome: Outcome) -> None:
    profile = household.profile
    products = profile.products
    offer = scenario.offer
    follow = scenario.assumption("nudge_follow")
    extra = scenario.assumption("nudge_extra_use")
    accept = min(1.0, scenario.assumption("offer_accept_base")
                 + scenario.assumption("offer_accept_per_discount") * offer.discount)
    for product_index in range(len(products)):  # the fridge starts stocked
        _buy(scenario, household, product_index, -household.stock_rng.uniform(0, 3), outcome)
    outcome.items_bought -= len(products)  # the opening stock was bought before the period
    outcome.money_spent_minor -= sum(scenario.prices_minor[p.name] for p in products)
    for day in range(scenario.days):
        month = (scenario.start + timedelta(days=day)).month - 1
        weekend = (scenario.start + timedelta(days=day)).weekday() >= 5
        away = day in household.away
        # Deliveries of accepted offers.
        for product_index, due in list(household.pending.items()):
            if due <= day:
                del household.pending[product_index]
                _buy(scenario, household, product_index, day, outcome, 1 - offer.discount)
                if household.offers.random() < scenario.assumption("review_approve"):
                    outcome.reviews_approved += 1
                    clicks = _poisson(household.offers, scenario.assumption("referral_clicks_per_post"))
                    conversion = scenario.assumption("referral_conversion")
                    outcome.referral_orders += sum(1 for _ in range(clicks) if household.offers.random() < conversion)
        # The weekly (or so) shop.
        if not away and day % profile.shop_every_days == household.shop_offset:
            for product_index in range(len(products)):
                if product_index in household.pending:
                    continue
                product = products[product_index]
                left = sum(p.fill for p in household.stock if p.product == product_index)
                # Enough to last until the next shop, but no more than keeps to its date (on average).
                horizon = min(profile.shop_every_days, sum(product.label_hours) / 2 / 24)
                need = _daily_use(product, profile) * horizon - left
                count = math.ceil(need) if need > _NEARLY_GONE else 0
                if household.stock_rng.random() < profile.overbuy:
                    count += 1
                for _ in range(count):
                    _buy(scenario, household, product_index, day, outcome)
        # Eating.
        if not away:
            for product_index, product in enumerate(products):
                packages = [p for p in household.stock if p.product == product_index]
                use = _daily_use(product, profile) * (profile.weekend_factor if weekend else 1.0)
                use *= math.exp(household.demand.gauss(0.0, profile.variance) - profile.variance**2 / 2)
                roll = household.choice.random()
                if not packages:
                    outcome.stockout_days += 1
                    continue
                chosen: _Package | None = None
                soon = [p for p in packages if p.expires - day <= offer.expiring_within_days]
                if household.nudges_on and soon:
                    outcome.nudges += 1
                    if roll < follow:
                        chosen = min(soon, key=lambda p: p.expires)
                        use *= 1 + extra
                if chosen is None:
                    opened = [p for p in packages if p.opened]
                    if opened:
                        chosen = min(opened, key=lambda p: p.bought)
                    elif household.choice.random() < profile.fifo:
                        chosen = min(packages, key=lambda p: p.bought)
                    else:
                        chosen = packages[household.choice.randrange(len(packages))]
                chosen.opened = True
                chosen.fill -= use
                if chosen.fill <= 0:
                    household.stock.remove(chosen)
                    outcome.items_used_up += 1
        # Throwing out what is past its date.
        for package in list(household.stock):
            if day > package.expires + scenario.discard_after_days:
                household.stock.remove(package)
                outcome.items_wasted += 1
                outcome.wasted_by_month[month] += 1
                price = scenario.prices_minor[products[package.product].name]
                outcome.money_wasted_minor += round(price * max(0.0, package.fill))
        # Runout offers on the door screen.
        if household.offers_on and not away:
            for product_index, product in enumerate(products):
                if product_index in household.pending or household.cooldown.get(product_index, -1) > day:
                    continue
                left = sum(p.fill for p in household.stock if p.product == product_index)
                if left / _daily_use(product, profile) > offer.runout_within_days:
                    continue
                outcome.offers_shown += 1
                if household.offers.random() < accept:
                    outcome.orders += 1
                    outcome.taps += 2 if household.offers.random() < scenario.assumption("double_tap") else 1
                    outcome.charges += 1  # one idempotency key per accept: a second tap finds the same order
                    household.pending[product_index] = day + offer.delivery_days
                else:
                    household.cooldown[product_index] = day + _DISMISS_COOLDOWN_DAYS


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method; the means here are small."""
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1
