"""freshtap's category words and the FoodKeeper categories they stand for.

The mapping is ours (freshtap's inventory uses short lower-case words such as `dairy` or
`seafood`); the categories and every duration behind them are FoodKeeper's. Categories are named
here as FoodKeeper names them (category, subcategory) and resolved to ids against the packaged
table when it loads, so a renamed category fails loudly instead of matching nothing.

Each word also names its rate-law group (see `rate_law`), i.e. how fast warmth spoils it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CATEGORY_WORDS", "CategoryRule", "category_rule", "normalise_category"]


@dataclass(frozen=True, slots=True)
class CategoryRule:
    """FoodKeeper (category, subcategory) pairs a freshtap word covers.

    `keyword`, when set, narrows the products to those whose name or keywords contain it (eggs
    are a part of FoodKeeper's "Dairy Products & Eggs"). `rate_group` names the Q10 group.
    """

    foodkeeper: tuple[tuple[str, str | None], ...]
    rate_group: str
    keyword: str | None = None


_DAIRY_EGGS = ("Dairy Products & Eggs", None)
_MEAT = (("Meat", "Fresh"), ("Meat", "Smoked or Processed"), ("Meat", "Stuffed or Assembled"))
_POULTRY = (
    ("Poultry", "Fresh"),
    ("Poultry", "Cooked or Processed"),
    ("Poultry", "Stuffed or Assembled"),
)
_SEAFOOD = (("Seafood", "Fresh"), ("Seafood", "Shellfish"), ("Seafood", "Smoked"))
_FRUIT = ("Produce", "Fresh Fruits")
_VEGETABLES = ("Produce", "Fresh Vegetables")

CATEGORY_WORDS: dict[str, CategoryRule] = {
    "dairy": CategoryRule((_DAIRY_EGGS,), "dairy"),
    "eggs": CategoryRule((_DAIRY_EGGS,), "eggs", keyword="egg"),
    "meat": CategoryRule(_MEAT, "meat"),
    "poultry": CategoryRule(_POULTRY, "meat"),
    "seafood": CategoryRule(_SEAFOOD, "seafood"),
    "produce": CategoryRule((_FRUIT, _VEGETABLES), "produce"),
    "fruit": CategoryRule((_FRUIT,), "produce"),
    "vegetables": CategoryRule((_VEGETABLES,), "produce"),
    "beverages": CategoryRule((("Beverages", None),), "ambient"),
    "deli": CategoryRule((("Deli & Prepared Foods", None),), "deli"),
    "bakery": CategoryRule((("Baked Goods", "Bakery"), ("Baked Goods", "Refrigerated Dough")), "ambient"),
    "condiments": CategoryRule((("Condiments, Sauces & Canned Goods", None),), "ambient"),
    "frozen": CategoryRule((("Food Purchased Frozen", None),), "default"),
    "grains": CategoryRule((("Grains, Beans & Pasta", None),), "ambient"),
    "vegetarian": CategoryRule((("Vegetarian Proteins", None),), "deli"),
    "baby food": CategoryRule((("Baby Food", None),), "default"),
    "pantry": CategoryRule((("Shelf Stable Foods", None),), "ambient"),
}

# Other spellings the inventory may carry.
_ALIASES: dict[str, str] = {
    "egg": "eggs",
    "fish": "seafood",
    "shellfish": "seafood",
    "fruits": "fruit",
    "vegetable": "vegetables",
    "veg": "vegetables",
    "beverage": "beverages",
    "drinks": "beverages",
    "drink": "beverages",
    "condiment": "condiments",
    "sauces": "condiments",
    "bread": "bakery",
    "prepared": "deli",
    "leftovers": "deli",
    "tofu": "vegetarian",
}


def normalise_category(word: str) -> str:
    """The canonical form of a category word: lower case, trimmed, aliases resolved."""
    key = " ".join(word.lower().split())
    return _ALIASES.get(key, key)


def category_rule(word: str) -> CategoryRule | None:
    """The rule for a freshtap category word, or None if freshtap has no mapping for it."""
    return CATEGORY_WORDS.get(normalise_category(word))
