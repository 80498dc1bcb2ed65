"""The facts a review may state: what the fridge measured about a product, and what its owner wrote.

Pure functions over plain data, time passed in. Every fact has an id (its kind: one fact of each
kind per review), a source and the values it states; review drafts (`review_drafts.py`) cite fact
ids sentence by sentence, so every sentence can be traced back to what was measured or typed.

    kind            source    values
    product         order     name
    bought_at       order     date (YYYY-MM-DD, in the household's time zone)
    lasted          measured  days (whole days the previous one of this product stayed in the fridge)
    storage_temp    measured  min_c, max_c, mean_c (0.1 °C, time-weighted over that stay)
    excursion       measured  above_c, max_c, hours (time spent warmer than the reference 4 °C)
    freshness_end   measured  state (its freshness state when it was used up)
    repurchases     order     count (earlier orders of this product by the household)
    owner_note      owner     text (the owner's own words, verbatim)
    owner_rating    owner     stars (1-5, only when the owner gave one), of (5: the scale)

Nothing is inferred: no `lasted` without a departure, no temperatures without readings, no rating
unless the owner typed one, no freshness at the end unless the item was used up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

__all__ = [
    "EXCURSION_ABOVE_C",
    "FACT_KINDS",
    "Fact",
    "FactKind",
    "FactSource",
    "OwnerInput",
    "Purchase",
    "StayRecord",
    "TempSpan",
    "clean_note",
    "facts_from_json",
    "facts_to_json",
    "gather_facts",
]

FactKind = Literal[
    "product",
    "bought_at",
    "lasted",
    "storage_temp",
    "excursion",
    "freshness_end",
    "repurchases",
    "owner_note",
    "owner_rating",
]
FactSource = Literal["order", "measured", "owner"]
FactValue = str | int | float

FACT_KINDS: tuple[FactKind, ...] = (
    "product",
    "bought_at",
    "lasted",
    "storage_temp",
    "excursion",
    "freshness_end",
    "repurchases",
    "owner_note",
    "owner_rating",
)
_SOURCES: dict[FactKind, FactSource] = {
    "product": "order",
    "bought_at": "order",
    "lasted": "measured",
    "storage_temp": "measured",
    "excursion": "measured",
    "freshness_end": "measured",
    "repurchases": "order",
    "owner_note": "owner",
    "owner_rating": "owner",
}

EXCURSION_ABOVE_C = 4.0
"""The shelf-life reference assumes storage at or below 4 °C; time above it is an excursion."""

MAX_NOTE_CHARS = 500


@dataclass(frozen=True)
class Fact:
    id: str
    kind: FactKind
    source: FactSource
    values: Mapping[str, FactValue]

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "kind": self.kind, "source": self.source, "values": dict(self.values)}


@dataclass(frozen=True)
class Purchase:
    """The order the review is about."""

    product_name: str
    bought_at: datetime
    earlier_orders: int
    """Orders of the same product by the same household before this one (not declined or cancelled)."""


@dataclass(frozen=True)
class TempSpan:
    """The compartment holding the item was at `temp_c` from `start` to `end`."""

    start: datetime
    end: datetime
    temp_c: float


@dataclass(frozen=True)
class StayRecord:
    """The previous item of this product in the household's fridge: its stay and how it ended."""

    added_at: datetime
    removed_at: datetime | None
    outcome: str | None
    """`used_up`, `thrown_away` or `taken_out` once it left; None while it is still there."""
    freshness_at_removal: str | None
    temperatures: Sequence[TempSpan] = ()


@dataclass(frozen=True)
class OwnerInput:
    note: str | None = None
    rating: int | None = None


def _fact(kind: FactKind, **values: FactValue) -> Fact:
    return Fact(id=kind, kind=kind, source=_SOURCES[kind], values=values)


def _clip(spans: Sequence[TempSpan], start: datetime, end: datetime) -> list[TempSpan]:
    clipped = []
    for span in spans:
        a, b = max(span.start, start), min(span.end, end)
        if b > a:
            clipped.append(TempSpan(a, b, span.temp_c))
    return clipped


def _temperature_facts(spans: Sequence[TempSpan]) -> list[Fact]:
    if not spans:
        return []
    total = sum((s.end - s.start).total_seconds() for s in spans)
    mean = sum(s.temp_c * (s.end - s.start).total_seconds() for s in spans) / total
    facts = [
        _fact(
            "storage_temp",
            min_c=round(min(s.temp_c for s in spans), 1),
            max_c=round(max(s.temp_c for s in spans), 1),
            mean_c=round(mean, 1),
        )
    ]
    warm = [s for s in spans if s.temp_c > EXCURSION_ABOVE_C]
    if warm:
        hours = sum((s.end - s.start).total_seconds() for s in warm) / 3600
        facts.append(
            _fact(
                "excursion",
                above_c=EXCURSION_ABOVE_C,
                max_c=round(max(s.temp_c for s in warm), 1),
                hours=round(hours, 1),
            )
        )
    return facts


def clean_note(note: str | None) -> str | None:
    """The owner's note as it will be quoted: stripped, one line, at most 500 characters; None when empty."""
    if note is None:
        return None
    text = " ".join(note.split())[:MAX_NOTE_CHARS]
    return text or None


def gather_facts(
    purchase: Purchase,
    stay: StayRecord | None,
    owner: OwnerInput,
    now: datetime,
    zone: ZoneInfo | None = None,
) -> tuple[Fact, ...]:
    """Every fact the history supports, in a fixed order; nothing more."""
    local: date = purchase.bought_at.astimezone(zone or ZoneInfo("UTC")).date()
    facts = [_fact("product", name=purchase.product_name), _fact("bought_at", date=local.isoformat())]
    if stay is not None:
        end = stay.removed_at if stay.removed_at is not None else now
        if stay.removed_at is not None and stay.removed_at >= stay.added_at:
            facts.append(_fact("lasted", days=(stay.removed_at - stay.added_at) // timedelta(days=1)))
        if end > stay.added_at:
            facts.extend(_temperature_facts(_clip(stay.temperatures, stay.added_at, end)))
        if stay.outcome == "used_up" and stay.freshness_at_removal is not None:
            facts.append(_fact("freshness_end", state=stay.freshness_at_removal))
    if purchase.earlier_orders > 0:
        facts.append(_fact("repurchases", count=purchase.earlier_orders))
    note = clean_note(owner.note)
    if note is not None:
        facts.append(_fact("owner_note", text=note))
    if owner.rating is not None:
        if not 1 <= owner.rating <= 5:
            raise ValueError("a rating is 1 to 5 stars")
        facts.append(_fact("owner_rating", stars=owner.rating, of=5))
    return tuple(facts)


def facts_to_json(facts: Sequence[Fact]) -> list[dict[str, object]]:
    return [fact.to_json() for fact in facts]


def facts_from_json(rows: Sequence[Mapping[str, object]]) -> tuple[Fact, ...]:
    facts = []
    for row in rows:
        kind = str(row["kind"])
        if kind not in _SOURCES:
            raise ValueError(f"unknown fact kind {kind!r}")
        values = row["values"]
        assert isinstance(values, Mapping)
        facts.append(
            Fact(
                id=str(row["id"]),
                kind=kind,
                source=_SOURCES[kind],
                values={str(k): v for k, v in values.items()},
            )
        )
    return tuple(facts)
