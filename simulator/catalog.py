"""The small catalog of groceries the simulated households buy.

Realistic names, the inventory's category words (those `freshtap.shelflife` maps to FoodKeeper)
and GTINs with computed check digits. The GTINs use the company prefix of GS1's own documentation
examples (`0950600`), so they are valid but belong to no real product. Shelf lives are the range
of hours between buying and the date printed on the label; consumption is the share of a package a
household uses per day once it is open.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from freshtap.gtin import check_digit

__all__ = ["CATALOG", "Product", "gtin14", "product_by_gtin"]

_PREFIX = "0950600"  # GS1's documentation prefix, padded to GTIN-14


def gtin14(item_reference: str) -> str:
    """A GTIN-14 under the example prefix: 6-digit item reference plus its check digit."""
    if len(item_reference) != 6 or not item_reference.isdigit():
        raise ValueError("item reference must be 6 digits")
    body = _PREFIX + item_reference
    return body + str(check_digit(body))


@dataclass(frozen=True)
class Product:
    name: str
    category: str
    gtin: str
    label_hours: tuple[float, float]
    """Hours from purchase to the label date, low and high."""
    expiry_kind: Literal["expiry", "best_before"]
    use_per_day: float
    """Share of the package used per day once open."""
    opens_per_day: float
    """Chance per day that an unopened package gets opened."""
    compartment: str = "fridge"
    quantity: float = 1
    unit: str = "pcs"
    short_dated: bool = False
    """Often bought or kept close to its date (milk, fish, berries)."""


def _product(
    name: str,
    category: str,
    item_reference: str,
    label_hours: tuple[float, float],
    expiry_kind: Literal["expiry", "best_before"],
    use_per_day: float,
    opens_per_day: float,
    compartment: str = "fridge",
    *,
    quantity: float = 1,
    short_dated: bool = False,
) -> Product:
    return Product(
        name=name,
        category=category,
        gtin=gtin14(item_reference),
        label_hours=label_hours,
        expiry_kind=expiry_kind,
        use_per_day=use_per_day,
        opens_per_day=opens_per_day,
        compartment=compartment,
        quantity=quantity,
        short_dated=short_dated,
    )


# name, category, item ref, label hours, kind, use/day, opens/day, compartment
CATALOG: tuple[Product, ...] = (
    _product("Whole milk 1 L", "dairy", "013435", (72, 168), "expiry", 0.35, 0.8, "door", short_dated=True),
    _product("Greek yogurt 500 g", "dairy", "021118", (168, 480), "expiry", 0.25, 0.4),
    _product("Mature cheddar 200 g", "dairy", "027509", (480, 1440), "best_before", 0.08, 0.2),
    _product("Unsalted butter 250 g", "dairy", "031247", (720, 2160), "best_before", 0.05, 0.2, "door"),
    _product("Free-range eggs", "eggs", "040016", (336, 672), "best_before", 0.15, 0.6, quantity=10),
    _product("Chicken breast 500 g", "poultry", "052204", (24, 72), "expiry", 0.9, 1.2, short_dated=True),
    _product("Salmon fillets 240 g", "seafood", "058831", (24, 48), "expiry", 1.0, 1.5, short_dated=True),
    _product("Baby spinach 200 g", "vegetables", "063342", (48, 144), "best_before", 0.4, 0.7, "crisper",
             short_dated=True),
    _product("Strawberries 400 g", "fruit", "067715", (24, 96), "best_before", 0.6, 1.0, "crisper",
             short_dated=True),
    _product("Orange juice 1 L", "beverages", "072109", (120, 336), "expiry", 0.3, 0.5, "door"),
    _product("Firm tofu 400 g", "vegetarian", "078425", (120, 480), "expiry", 0.5, 0.3),
    _product("Cooked ham slices 150 g", "deli", "083960", (72, 240), "expiry", 0.3, 0.5),
    _product("Frozen peas 1 kg", "frozen", "090127", (4320, 8640), "best_before", 0.05, 0.1, "freezer"),
)

_BY_GTIN = {product.gtin: product for product in CATALOG}


def product_by_gtin(gtin: str) -> Product | None:
    return _BY_GTIN.get(gtin)
