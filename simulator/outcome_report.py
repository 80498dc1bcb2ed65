"""The outcome report (`docs/outcomes.md`): the runs side by side, a chart, and every assumption.

The chart is a Mermaid `xychart-beta` block, which GitHub and most Markdown viewers draw; its data
are the printed table's, so the report reads the same without it.
"""

from __future__ import annotations

from .outcomes import Outcome
from .scenario import Scenario

__all__ = ["render_report"]

_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _money(minor: int, currency: str) -> str:
    return f"{minor / 100:,.0f} {currency}"


def _change(before: float, after: float) -> str:
    if before == 0:
        return "n/a"
    return f"{(after - before) / before:+.1%}"


def render_report(scenario: Scenario, outcomes: tuple[Outcome, ...], command: str, seconds: float) -> str:
    base = outcomes[0]
    cur = scenario.currency
    rows: list[tuple[str, list[str]]] = [
        ("items bought (shop and orders)", [f"{o.items_bought:,}" for o in outcomes]),
        ("items used up", [f"{o.items_used_up:,}" for o in outcomes]),
        ("items wasted", [f"{o.items_wasted:,}" for o in outcomes]),
        ("share of bought items wasted", [f"{o.waste_share:.2%}" for o in outcomes]),
        ("money wasted", [_money(o.money_wasted_minor, cur) for o in outcomes]),
        ("money spent", [_money(o.money_spent_minor, cur) for o in outcomes]),
        ("days a wanted product was missing", [f"{o.stockout_days:,}" for o in outcomes]),
        ("use-soon nudges shown", [f"{o.nudges:,}" for o in outcomes]),
        ("offers shown", [f"{o.offers_shown:,}" for o in outcomes]),
        ("orders (one-tap)", [f"{o.orders:,}" for o in outcomes]),
        ("taps, retries included", [f"{o.taps:,}" for o in outcomes]),
        ("charges per order", [f"{o.charges_per_order:.2f}" if o.orders else "-" for o in outcomes]),
        ("reviews approved", [f"{o.reviews_approved:,}" for o in outcomes]),
        ("referral orders", [f"{o.referral_orders:,}" for o in outcomes]),
    ]
    header = "| | " + " | ".join(o.label for o in outcomes) + " |"
    lines = [
        "# Outcomes: a simulated year with and without freshtap",
        "",
        f"Scenario `{scenario.name}`: {scenario.households:,} households, {scenario.days} days from "
        f"{scenario.start.isoformat()}, seed {scenario.seed}. The same households, with the same random "
        "streams, are run three times: without freshtap, with its use-soon nudges only, and with nudges "
        "and merchants' runout offers. The model is `freshtap.simulator.outcomes` (read its docstring for "
        "what a day is); the scenario file is `simulator/scenarios/year-1000.toml`.",
        "",
        f"Produced by `{command}` in {seconds:.0f} s. It is deterministic: the same file and seed print the "
        "same figures.",
        "",
        "## What happened",
        "",
        header,
        "|---|" + "---|" * len(outcomes),
        *(f"| {name} | " + " | ".join(values) + " |" for name, values in rows),
        "",
    ]
    nudges, full = outcomes[1], outcomes[-1]
    lines += [
        "In words, as measured in this run:",
        "",
        f"- Nudges alone changed items wasted by {_change(base.items_wasted, nudges.items_wasted)} and money "
        f"wasted by {_change(base.money_wasted_minor, nudges.money_wasted_minor)}.",
        f"- Nudges with offers changed items wasted by {_change(base.items_wasted, full.items_wasted)}, money "
        f"wasted by {_change(base.money_wasted_minor, full.money_wasted_minor)}, the share of bought items "
        f"wasted from {base.waste_share:.2%} to {full.waste_share:.2%}, and the days a wanted product was "
        f"missing by {_change(base.stockout_days, full.stockout_days)}; households bought "
        f"{_change(base.items_bought, full.items_bought)} more items.",
        f"- {full.orders:,} one-tap orders took {full.taps:,} taps (retries included) and "
        f"{full.charges:,} charges: {full.charges_per_order:.2f} charges per order.",
        f"- {full.reviews_approved:,} approved reviews brought {full.referral_orders:,} referral orders.",
        "",
        "Offers keep households stocked, so they eat more of what they like and buy more; part of what "
        "arrives by offer meets a package the household also bought at its shop, and some of it expires. "
        "Whether offers lower waste therefore depends on the rule (how early it triggers) and on how "
        "households shop once offers exist, which this model does not change: read the waste figures "
        "together with the stock-outs.",
        "",
        "## Items wasted per month",
        "",
        "```mermaid",
        "xychart-beta",
        '    title "Items wasted per month (bars: without freshtap; line: with freshtap)"',
        "    x-axis [" + ", ".join(_MONTHS) + "]",
        '    y-axis "items wasted"',
        "    bar [" + ", ".join(str(n) for n in base.wasted_by_month) + "]",
        "    line [" + ", ".join(str(n) for n in full.wasted_by_month) + "]",
        "```",
        "",
        "| month | " + " | ".join(o.label for o in outcomes) + " |",
        "|---|" + "---|" * len(outcomes),
        *(
            f"| {month} | " + " | ".join(str(o.wasted_by_month[i]) for o in outcomes) + " |"
            for i, month in enumerate(_MONTHS)
        ),
        "",
        "## Assumptions, and where they come from",
        "",
        "How a nudge or an offer changes what a household does is assumed, not measured. Each figure:",
        "",
        "| assumption | value | what it means | source |",
        "|---|---|---|---|",
        *(
            f"| `{a.name}` | {a.value:g} | {a.means} | {a.source} |"
            for a in scenario.assumptions.values()
        ),
        "",
        f"Offer rule: runout within {scenario.offer.runout_within_days:g} days, {scenario.offer.discount:.0%} "
        f"off, delivered after {scenario.offer.delivery_days} day(s); a dismissed offer waits three days. "
        f"'Use soon' means within {scenario.offer.expiring_within_days:g} days of the label date.",
        "",
        "## Households",
        "",
        "| profile | share | products | appetite | weekend | days away | shops every | overbuy | oldest first |",
        "|---|---|---|---|---|---|---|---|---|",
        *(
            f"| {p.name} | {p.share:.0%} | {len(p.products)} | {p.appetite:g} | x{p.weekend_factor:g} | "
            f"{p.holiday_days} | {p.shop_every_days} days | {p.overbuy:.0%} | {p.fifo:.0%} |"
            for p in scenario.profiles
        ),
        "",
        "## Limits of the model",
        "",
        "- Packages are judged by their label date; the live server's shelf-life model (opening, "
        "temperature) is not run here.",
        "- Households do not learn: their shopping does not change once offers exist.",
        "- Referral orders are counted, not simulated as new households with fridges of their own.",
        "- Charges per order come from the model's rule (one idempotency key per accept); that the server "
        "keeps it is proven by the payment tests, not by this report.",
        "",
    ]
    return "\n".join(lines)
