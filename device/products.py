"""What the fridge calls a product it recognised by its GTIN: name and category.

A label gives a GTIN, a date and a batch, not a name; the shelf-life model needs a category (and
does better with a name) to pick reference durations, and the door screen needs a name to show.
`ProductDirectory` maps GTINs to both; it is loaded from a JSON file (`{"09506000134352":
{"name": "Whole milk 1 L", "category": "dairy"}, ...}`) the fridge gets with its provisioning.
An unknown GTIN is named after itself, in category `other`; an item without a readable code is an
"Unidentified item".
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from freshtap.gtin import is_valid_gtin14

__all__ = ["Product", "ProductDirectory"]

UNKNOWN_CATEGORY = "other"


@dataclass(frozen=True)
class Product:
    name: str
    category: str


class ProductDirectory:
    def __init__(self, products: Mapping[str, Product] | None = None) -> None:
        self._products = dict(products or {})
        for gtin in self._products:
            if not is_valid_gtin14(gtin):
                raise ValueError(f"not a valid GTIN-14 in the product directory: {gtin!r}")

    @classmethod
    def load(cls, path: Path) -> ProductDirectory:
        """Read a JSON object of GTIN -> {name, category}; `ValueError` on anything else."""
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read the product directory {path}: {exc}") from exc
        if not isinstance(raw, dict):
            raise ValueError(f"{path}: expected a JSON object of GTIN -> {{name, category}}")
        products = {}
        for gtin, entry in raw.items():
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                raise ValueError(f"{path}: {gtin} needs a name")
            name = entry["name"].strip()[:200] or gtin
            category = str(entry.get("category") or UNKNOWN_CATEGORY).strip()[:64] or UNKNOWN_CATEGORY
            products[str(gtin)] = Product(name, category)
        return cls(products)

    def describe(self, gtin: str | None) -> Product:
        if gtin is None:
            return Product("Unidentified item", UNKNOWN_CATEGORY)
        return self._products.get(gtin) or Product(f"Product {gtin}", UNKNOWN_CATEGORY)

    def __len__(self) -> int:
        return len(self._products)
