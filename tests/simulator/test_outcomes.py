"""The outcome model and its report: deterministic, driven by the stated assumptions, validated input."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from freshtap.cli import app
from freshtap.simulator.outcome_report import render_report
from freshtap.simulator.outcomes import compare, run_outcome
from freshtap.simulator.scenario import (
    Scenario,
    ScenarioError,
    default_scenario_path,
    load_scenario,
    parse_scenario,
)


def small_raw(households: int = 40, days: int = 90) -> dict[str, Any]:
    raw = tomllib.loads(default_scenario_path().read_text(encoding="utf-8"))
    raw["run"]["households"], raw["run"]["days"] = households, days
    return raw


def small(**assumptions: float) -> Scenario:
    raw = small_raw()
    for name, value in assumptions.items():
        raw["assumptions"][name]["value"] = value
    return parse_scenario(raw, name="small")


def test_the_shipped_scenario_loads() -> None:
    scenario = load_scenario(default_scenario_path())
    assert scenario.households == 1000 and scenario.days == 365
    assert all(a.source for a in scenario.assumptions.values())


def test_one_seed_gives_one_answer() -> None:
    first, second = compare(small()), compare(small())
    assert [dataclasses.asdict(o) for o in first] == [dataclasses.asdict(o) for o in second]
    raw = small_raw()
    raw["run"]["seed"] += 1
    other = compare(parse_scenario(raw))
    assert dataclasses.asdict(other[0]) != dataclasses.asdict(first[0])


def test_a_nudge_nobody_follows_changes_nothing() -> None:
    """The waste difference comes from the stated assumption, not from the model's plumbing."""
    scenario = small(nudge_follow=0.0, nudge_extra_use=0.0)
    without = run_outcome(scenario, nudges=False, offers=False)
    nudged = run_outcome(scenario, nudges=True, offers=False)
    assert nudged.nudges > 0
    assert (nudged.items_wasted, nudged.money_wasted_minor) == (without.items_wasted, without.money_wasted_minor)


def test_followed_nudges_cut_waste() -> None:
    scenario = small(nudge_follow=1.0)
    without = run_outcome(scenario, nudges=False, offers=False)
    nudged = run_outcome(scenario, nudges=True, offers=False)
    assert nudged.items_wasted < without.items_wasted


def test_offers_make_orders_and_referrals_and_never_a_second_charge() -> None:
    scenario = small(double_tap=0.5)
    with_all = run_outcome(scenario, nudges=True, offers=True)
    assert with_all.orders > 0 and with_all.referral_orders >= 0
    assert with_all.taps > with_all.orders and with_all.charges == with_all.orders
    no_accept = run_outcome(small(offer_accept_base=0.0, offer_accept_per_discount=0.0), nudges=True, offers=True)
    assert no_accept.offers_shown > 0 and no_accept.orders == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda raw: raw["run"].pop("seed"), "run.seed is missing"),
        (lambda raw: raw["run"].__setitem__("households", 0), "run.households must be positive"),
        (lambda raw: raw["profiles"][0]["products"].append("Caviar"), "unknown ['Caviar']"),
        (lambda raw: raw["profiles"][1].__setitem__("fifo", 1.5), "profiles[1].fifo must be within 0..1"),
        (lambda raw: raw["assumptions"].pop("review_approve"), "assumptions.review_approve is missing"),
        (lambda raw: raw["offer"].__setitem__("discount", "ten"), "offer.discount must be a float"),
    ],
)
def test_a_bad_scenario_names_the_key(change: Any, message: str) -> None:
    raw = small_raw()
    change(raw)
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(raw)
    assert message in str(caught.value)


def test_the_report_states_every_assumption_with_its_source() -> None:
    scenario = small()
    report = render_report(scenario, compare(scenario), "freshtap simulate --compare small.toml", 1.0)
    for assumption in scenario.assumptions.values():
        assert f"`{assumption.name}`" in report and assumption.source in report
    assert "xychart-beta" in report and "charges per order" in report


def test_the_command_writes_the_report(tmp_path: Path) -> None:
    scenario_file = tmp_path / "small.toml"
    text = default_scenario_path().read_text(encoding="utf-8")
    scenario_file.write_text(text.replace("households = 1000", "households = 20").replace("days = 365", "days = 30"))
    out = tmp_path / "outcomes.md"
    result = CliRunner().invoke(app, ["simulate", "--compare", str(scenario_file), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "20 households, 30 days" in out.read_text(encoding="utf-8")
    broken = tmp_path / "broken.toml"
    broken.write_text("[run]\nseed = 1\n")
    result = CliRunner().invoke(app, ["simulate", "--compare", str(broken)])
    assert result.exit_code != 0 and "is missing" in result.output


def test_the_published_report_is_the_shipped_scenarios() -> None:
    report = (Path(__file__).parents[2] / "docs" / "outcomes.md").read_text(encoding="utf-8")
    assert "freshtap simulate --compare simulator/scenarios/year-1000.toml --out docs/outcomes.md" in report
    assert "1,000 households, 365 days" in report
