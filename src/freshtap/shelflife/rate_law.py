"""How fast shelf life is used up at a given temperature (a Q10 rate law).

FoodKeeper's refrigerator lives assume storage at or below 4 °C (40 °F). The model counts shelf
life in "reference hours", hours at 4 °C, and spends them at a rate set by the temperature:

    rate(T) = 0                      T <= -12 °C (frozen: time does not count)
    rate(T) = 1                      -12 °C < T <= 4 °C
    rate(T) = Q10 ** ((T - 4) / 10)  T > 4 °C

Below 4 °C the rate is held at 1, not lowered: the reference was measured at fridge
temperature and colder-than-reference storage earns no credit. -12 °C is where the model calls
food frozen: FSIS states that food kept at 0 °F (-18 °C) is safe indefinitely, and the
square-root models cited below put the notional minimum growth temperature (Tmin) of spoilage
bacteria at about -10 °C; -12 °C sits below that, with a margin above a freezer's -18 °C for
door openings and defrost.

Q10 per group, with where it comes from, is in `RATE_LAWS`; docs/shelf-life.md explains each.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "FROZEN_AT_OR_BELOW_C",
    "RATE_LAWS",
    "REFERENCE_TEMP_C",
    "RateLaw",
    "rate_law",
    "spoilage_rate",
]

REFERENCE_TEMP_C = 4.0
FROZEN_AT_OR_BELOW_C = -12.0


@dataclass(frozen=True, slots=True)
class RateLaw:
    """The Q10 of one group of foods and its source."""

    group: str
    q10: float
    source: str

    def rate(self, temp_c: float) -> float:
        """Reference hours used per hour at `temp_c`."""
        return spoilage_rate(temp_c, self.q10)


def spoilage_rate(temp_c: float, q10: float) -> float:
    """Reference hours used per hour at `temp_c` under a Q10 law anchored at 4 °C."""
    if temp_c <= FROZEN_AT_OR_BELOW_C:
        return 0.0
    if temp_c <= REFERENCE_TEMP_C:
        return 1.0
    return float(q10 ** ((temp_c - REFERENCE_TEMP_C) / 10.0))


_SQUARE_ROOT = (
    "square-root (Ratkowsky/Belehradek) model of psychrotrophic spoilage bacteria, "
    "rate ~ (T - Tmin)^2 with Tmin about -10 °C (Ratkowsky et al. 1982, J. Bacteriol. 149:1-5); "
    "equivalent Q10 between 4 and 14 °C: ((14+10)/(4+10))^2 = 2.9"
)

RATE_LAWS: dict[str, RateLaw] = {
    "seafood": RateLaw(
        "seafood",
        4.0,
        "relative rate of spoilage of fresh seafood from temperate waters, (1 + 0.1 T)^2: "
        "spoilage at 10 °C is 4x that at 0 °C (Olley & Ratkowsky 1973; Dalgaard 2002, "
        "Seafood Spoilage and Safety Predictor, DTU Aqua)",
    ),
    "meat": RateLaw("meat", 3.0, _SQUARE_ROOT + ", rounded up to 3 (aerobic Pseudomonas spoilage)"),
    "dairy": RateLaw(
        "dairy",
        3.0,
        _SQUARE_ROOT + ", rounded up to 3; pasteurised milk spoils by the same psychrotrophs",
    ),
    "eggs": RateLaw("eggs", 3.0, "as dairy (our choice; Salmonella growth in egg rises steeply above 7 °C)"),
    "deli": RateLaw("deli", 3.0, "as meat: cooked and prepared foods spoil by the same psychrotrophs"),
    "produce": RateLaw(
        "produce",
        2.5,
        "respiration of fresh fruit and vegetables, Q10 about 2-3 over 0-20 °C "
        "(Kader (ed.) 2002, Postharvest Technology of Horticultural Crops, UC ANR 3311)",
    ),
    "ambient": RateLaw(
        "ambient",
        2.0,
        "van 't Hoff rule of thumb for chemical quality loss, rates doubling per 10 °C "
        "(Labuza 1982, Shelf-Life Dating of Foods); for drinks, condiments and bakery",
    ),
    "default": RateLaw("default", 3.0, "unknown food: the psychrotroph value used for dairy and meat"),
}


def rate_law(group: str) -> RateLaw:
    """The rate law of a group, or the default one for an unknown group."""
    return RATE_LAWS.get(group, RATE_LAWS["default"])
