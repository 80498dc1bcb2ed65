"""Scenario files: who the simulated households are and what we assume about their behaviour.

A scenario is a TOML file (see `simulator/scenarios/year-1000.toml`): the run (seed, number of
households, days, start date), household profiles (how much of each category they eat, weekends,
holidays away, how often they shop, how they pick from the fridge), prices, the merchants' offer
rule, and the behavioural assumptions the outcome report states with their sources. The same file
and seed give the same run.

`load_scenario(path)` validates everything and raises `ScenarioError` naming the bad key.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from .catalog import CATALOG, Product
from .household import Habits

__all__ = [
    "Assumption",
    "OfferRule",
    "Profile",
    "Scenario",
    "ScenarioError",
    "default_scenario_path",
    "habits_for",
    "load_scenario",
    "parse_scenario",
]


class ScenarioError(ValueError):
    """The scenario file is not valid; the message names the key."""


@dataclass(frozen=True)
class Assumption:
    """One behavioural assumption: its value, what it means and where the figure comes from."""

    name: str
    value: float
    means: str
    source: str


@dataclass(frozen=True)
class Profile:
    name: str
    share: float
    """Share of the households with this profile (shares are normalised)."""
    products: tuple[Product, ...]
    appetite: float
    """Multiplier on each product's daily use once open."""
    weekend_factor: float
    variance: float
    """Sigma of the log-normal day-to-day variation of use."""
    holiday_days: int
    """Days away per year (in one or two trips), eating nothing from the fridge."""
    shop_every_days: int
    overbuy: float
    """Chance, at a shop, of buying a product that is still in stock."""
    fifo: float
    """Chance that, without reminders, the household uses the oldest package first."""


@dataclass(frozen=True)
class OfferRule:
    """The merchants' rule the simulated offers follow (one rule for the whole catalog)."""

    runout_within_days: float
    expiring_within_days: float
    discount: float
    """Fraction off the shelf price."""
    delivery_days: int


@dataclass(frozen=True)
class Scenario:
    name: str
    seed: int
    households: int
    days: int
    start: date
    discard_after_days: int
    profiles: tuple[Profile, ...]
    prices_minor: dict[str, int]
    """Shelf price per product name, in minor units of `currency`."""
    currency: str
    offer: OfferRule
    assumptions: dict[str, Assumption]

    def assumption(self, name: str) -> float:
        return self.assumptions[name].value


_ASSUMPTIONS = (
    "nudge_follow",
    "nudge_extra_use",
    "offer_accept_base",
    "offer_accept_per_discount",
    "double_tap",
    "review_approve",
    "referral_clicks_per_post",
    "referral_conversion",
)


def default_scenario_path() -> Path:
    return Path(__file__).parent / "scenarios" / "year-1000.toml"


def load_scenario(path: Path) -> Scenario:
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"cannot read {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path} is not valid TOML: {exc}") from exc
    return parse_scenario(raw, name=Path(path).stem)


def _get(table: dict[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in table:
        raise ScenarioError(f"{where}.{key} is missing")
    value = table[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ScenarioError(f"{where}.{key} must be a {kind.__name__}, not {value!r}")
    return value


def _fraction(table: dict[str, Any], key: str, where: str) -> float:
    value: float = _get(table, key, float, where)
    if not 0.0 <= value <= 1.0:
        raise ScenarioError(f"{where}.{key} must be within 0..1, not {value}")
    return value


def _positive(table: dict[str, Any], key: str, kind: type, where: str) -> Any:
    value = _get(table, key, kind, where)
    if value <= 0:
        raise ScenarioError(f"{where}.{key} must be positive, not {value}")
    return value


def parse_scenario(raw: dict[str, Any], name: str = "scenario") -> Scenario:
    run = _get(raw, "run", dict, "scenario")
    by_name = {p.name: p for p in CATALOG}
    prices_raw = _get(raw, "prices", dict, "scenario")
    prices: dict[str, int] = {}
    for product, price in prices_raw.items():
        if product == "currency":
            continue
        if product not in by_name:
            raise ScenarioError(f"prices.{product!r} is not a catalog product ({', '.join(sorted(by_name))})")
        if not isinstance(price, int) or isinstance(price, bool) or price <= 0:
            raise ScenarioError(f"prices.{product!r} must be a positive integer of minor units")
        prices[product] = price
    currency = _get(prices_raw, "currency", str, "prices")
    profiles: list[Profile] = []
    for index, table in enumerate(_get(raw, "profiles", list, "scenario")):
        where = f"profiles[{index}]"
        if not isinstance(table, dict):
            raise ScenarioError(f"{where} must be a table")
        names = _get(table, "products", list, where)
        missing = [n for n in names if n not in by_name]
        if missing:
            raise ScenarioError(f"{where}.products: unknown {missing}")
        unpriced = [n for n in names if n not in prices]
        if unpriced:
            raise ScenarioError(f"{where}.products: no price for {unpriced}")
        profiles.append(Profile(
            name=_get(table, "name", str, where),
            share=_positive(table, "share", float, where),
            products=tuple(by_name[n] for n in names),
            appetite=_positive(table, "appetite", float, where),
            weekend_factor=_positive(table, "weekend_factor", float, where),
            variance=_get(table, "variance", float, where),
            holiday_days=_get(table, "holiday_days", int, where),
            shop_every_days=_positive(table, "shop_every_days", int, where),
            overbuy=_fraction(table, "overbuy", where),
            fifo=_fraction(table, "fifo", where),
        ))
    if not profiles:
        raise ScenarioError("scenario.profiles: at least one profile is needed")
    offer = _get(raw, "offer", dict, "scenario")
    assumptions_raw = _get(raw, "assumptions", dict, "scenario")
    assumptions: dict[str, Assumption] = {}
    for key in _ASSUMPTIONS:
        table = _get(assumptions_raw, key, dict, "assumptions")
        where = f"assumptions.{key}"
        assumptions[key] = Assumption(
            name=key,
            value=_get(table, "value", float, where),
            means=_get(table, "means", str, where),
            source=_get(table, "source", str, where),
        )
    start = _get(run, "start", date, "run")
    return Scenario(
        name=name,
        seed=_get(run, "seed", int, "run"),
        households=_positive(run, "households", int, "run"),
        days=_positive(run, "days", int, "run"),
        start=start,
        discard_after_days=_get(run, "discard_after_days", int, "run"),
        profiles=tuple(profiles),
        prices_minor=prices,
        currency=currency,
        offer=OfferRule(
            runout_within_days=_positive(offer, "runout_within_days", float, "offer"),
            expiring_within_days=_positive(offer, "expiring_within_days", float, "offer"),
            discount=_fraction(offer, "discount", "offer"),
            delivery_days=_get(offer, "delivery_days", int, "offer"),
        ),
        assumptions=assumptions,
    )


def habits_for(scenario: Scenario, key: str) -> Habits:
    """The live simulator's habits for the household `key` (a fridge id): a profile by share, days away."""
    import random
    from datetime import timedelta

    total = sum(p.share for p in scenario.profiles)
    rng = random.Random(f"{scenario.seed}:{key}:habits")
    point = rng.random() * total
    profile = scenario.profiles[-1]
    for candidate in scenario.profiles:
        point -= candidate.share
        if point < 0:
            profile = candidate
            break
    begin = rng.randrange(0, max(1, scenario.days - profile.holiday_days))
    away = frozenset(scenario.start + timedelta(days=begin + n) for n in range(profile.holiday_days))
    return Habits(
        appetite=profile.appetite, weekend_factor=profile.weekend_factor, variance=profile.variance, away=away
    )
