"""The packaged FoodKeeper reference table and lookups in it.

`foodkeeper.json` is derived from the USDA FSIS FoodKeeper data by
`scripts/derive_foodkeeper.py` (durations converted to hours, non-durations such as
"Package use-by date" flagged, never numbers). It is loaded once, on first use, through
`importlib.resources`.

Name lookup is a deterministic score, not a search engine. A query is cut into lower-case words
(simple plurals folded, a few synonyms such as "minced" -> "ground", units and digits dropped).
A product scores, by the best of:

- 10 per word of its whole name, or of the first part of it (parts are split at commas,
  slashes, "or" and "and"), when all those words are in the query; 6 per word of a later part
  (so "Artichokes, whole" does not win "Whole milk");
- else 4 per word of one of its keyword phrases wholly in the query, less 0.5 per word of its
  name missing from the query (so "Cheddar" prefers "Cheese" to "Vegan Cheddar Cheese");

plus 5 if that name part holds the query's last word (its head noun: "Tomato ketchup" is
ketchup), 1 for every other query word found in its subtitle or keywords, and 5 if it lies in
the FoodKeeper categories of the item's freshtap category. The highest score wins; ties go to the
lower id (FoodKeeper lists the common form of a food first). A match on keywords alone counts
only inside the item's (mapped) category: "Mystery box" must not become boxed grits.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from freshtap.shelflife.categories import CATEGORY_WORDS, category_rule, normalise_category

__all__ = [
    "CategoryLife",
    "ReferenceProduct",
    "ReferenceTable",
    "StorageLife",
    "category_life",
    "find_product",
    "load_reference",
    "product_by_id",
    "products_in_category",
]

_TABLE_RESOURCE = "foodkeeper.json"
_FIND_CACHE_SIZE = 4096


@dataclass(frozen=True, slots=True)
class StorageLife:
    """One FoodKeeper storage duration: the source's min/max and unit, and the same in hours."""

    min: float
    max: float
    unit: str
    min_hours: float
    max_hours: float
    source: str
    """The FoodKeeper column it came from, e.g. `DOP_Refrigerate`."""

    def describe(self) -> str:
        """`1-2 weeks`, `3 days`: the source's own words for the range."""
        unit = self.unit.lower()
        if unit == "year":
            unit = "years"
        span = f"{_num(self.min)}" if self.min == self.max else f"{_num(self.min)}-{_num(self.max)}"
        if self.max == 1 and unit.endswith("s"):
            unit = unit[:-1]
        return f"{span} {unit}"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


@dataclass(frozen=True, slots=True)
class ReferenceProduct:
    """One FoodKeeper product and its storage lives (None: FoodKeeper gives no duration)."""

    id: int
    name: str
    subtitle: str | None
    category_id: int
    category: str
    subcategory: str | None
    keywords: tuple[str, ...]
    refrigerate: StorageLife | None
    refrigerate_after_opening: StorageLife | None
    freeze: StorageLife | None
    pantry: StorageLife | None
    pantry_after_opening: StorageLife | None
    skipped: tuple[tuple[str, str], ...]
    """(source column, why) for non-durations, e.g. ("Refrigerate", "Package use-by date")."""

    @property
    def label(self) -> str:
        """`Milk (plain or flavored)`: the name with its subtitle."""
        return f"{self.name} ({self.subtitle})" if self.subtitle else self.name


@dataclass(frozen=True, slots=True)
class CategoryLife:
    """A freshtap category's fallback lives, from the FoodKeeper products it covers.

    Each is the lower quartile of the covered products' minimum lives: three in four products of
    the category keep at least this long. None when no covered product has that duration.
    """

    category: str
    refrigerate_hours: float | None
    after_opening_hours: float | None
    products: int


def _life(raw: Mapping[str, Any] | None) -> StorageLife | None:
    if raw is None:
        return None
    return StorageLife(
        min=raw["min"],
        max=raw["max"],
        unit=raw["unit"],
        min_hours=raw["min_hours"],
        max_hours=raw["max_hours"],
        source=raw["source"],
    )


def _product(raw: Mapping[str, Any]) -> ReferenceProduct:
    storage = raw["storage"]
    return ReferenceProduct(
        id=raw["id"],
        name=raw["name"],
        subtitle=raw["subtitle"],
        category_id=raw["category_id"],
        category=raw["category"],
        subcategory=raw["subcategory"],
        keywords=tuple(raw["keywords"]),
        refrigerate=_life(storage.get("refrigerate")),
        refrigerate_after_opening=_life(storage.get("refrigerate_after_opening")),
        freeze=_life(storage.get("freeze")),
        pantry=_life(storage.get("pantry")),
        pantry_after_opening=_life(storage.get("pantry_after_opening")),
        skipped=tuple(sorted(raw["skipped"].items())),
    )


# --- words ------------------------------------------------------------------------------------

_STOP_WORDS = frozenset(
    {"a", "an", "and", "or", "of", "the", "with", "in", "such", "as", "etc", "per", "pack", "pcs", "pc"}
    | {"l", "ml", "cl", "dl", "g", "kg", "mg", "oz", "lb", "lbs", "x"}
)
_SYNONYMS = {"minced": "ground", "mince": "ground"}


def _fold(word: str) -> str:
    word = _SYNONYMS.get(word, word)
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith("oes"):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def word_list(text: str) -> list[str]:
    """The comparable words of `text` in order: lower case, letters only, plurals folded, units dropped."""
    return [_fold(w) for w in re.findall(r"[a-z]+", text.lower()) if w not in _STOP_WORDS]


def words(text: str) -> frozenset[str]:
    """The comparable words of `text`, as a set."""
    return frozenset(word_list(text))


@dataclass(frozen=True, slots=True)
class _Index:
    product: ReferenceProduct
    names: tuple[tuple[frozenset[str], float], ...]
    """(words, points per word) for the whole name and each of its parts."""
    name_words: frozenset[str]
    phrases: tuple[frozenset[str], ...]
    extra: frozenset[str]


def _index(product: ReferenceProduct) -> _Index:
    parts = [words(p) for p in re.split(r",|/|\bor\b|\band\b", product.name.lower())]
    parts = [p for p in parts if p]
    names = [(words(product.name), 10.0)]
    names += [(p, 10.0 if i == 0 else 6.0) for i, p in enumerate(parts)]
    phrases = tuple(w for w in (words(k) for k in product.keywords) if w)
    extra = words(product.subtitle or "").union(*phrases)
    return _Index(
        product=product,
        names=tuple(n for n in names if n[0]),
        name_words=words(product.name),
        phrases=phrases,
        extra=extra,
    )


# --- the table --------------------------------------------------------------------------------


class ReferenceTable:
    """The FoodKeeper products, with lookups by id, name and freshtap category."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.attribution: str = raw["attribution"]
        self.source: Mapping[str, Any] = dict(raw["source"])
        self.products: tuple[ReferenceProduct, ...] = tuple(_product(p) for p in raw["products"])
        self._by_id = {p.id: p for p in self.products}
        self._index = tuple(_index(p) for p in self.products)
        self._category_ids: dict[tuple[str, str | None], int] = {
            (c["name"], c["subcategory"]): c["id"] for c in raw["categories"]
        }
        self._categories = {word: self._resolve(word) for word in CATEGORY_WORDS}
        self._found: dict[tuple[str, str | None], ReferenceProduct | None] = {}
        self._lives: dict[str, CategoryLife | None] = {}

    def _resolve(self, word: str) -> frozenset[int]:
        rule = CATEGORY_WORDS[word]
        ids: set[int] = set()
        for name, sub in rule.foodkeeper:
            if sub is None:
                found = {cid for (n, _), cid in self._category_ids.items() if n == name}
            else:
                found = {self._category_ids[(name, sub)]} if (name, sub) in self._category_ids else set()
            if not found:
                raise ValueError(f"category {word!r}: FoodKeeper has no category {name!r}/{sub!r}")
            ids |= found
        return frozenset(ids)

    def product(self, product_id: int) -> ReferenceProduct | None:
        """The product with this FoodKeeper id, or None."""
        return self._by_id.get(product_id)

    def foodkeeper_category_ids(self, category: str) -> frozenset[int]:
        """The FoodKeeper category ids a freshtap category word covers (empty: unmapped)."""
        key = normalise_category(category)
        return self._categories.get(key, frozenset())

    def in_category(self, category: str) -> tuple[ReferenceProduct, ...]:
        """The FoodKeeper products a freshtap category word covers, by id."""
        rule = category_rule(category)
        if rule is None:
            return ()
        ids = self.foodkeeper_category_ids(category)
        chosen = (p for p in self.products if p.category_id in ids)
        if rule.keyword is not None:
            key = _fold(rule.keyword)
            chosen = (p for p in chosen if key in words(p.name) | words(" ".join(p.keywords)))
        return tuple(chosen)

    def category_life(self, category: str) -> CategoryLife | None:
        """Fallback lives for a freshtap category word, derived from its FoodKeeper products."""
        key = normalise_category(category)
        if key not in self._lives:
            self._lives[key] = self._category_life(key)
        return self._lives[key]

    def _category_life(self, category: str) -> CategoryLife | None:
        products = self.in_category(category)
        if not products:
            return None
        return CategoryLife(
            category=normalise_category(category),
            refrigerate_hours=_lower_quartile(p.refrigerate.min_hours for p in products if p.refrigerate),
            after_opening_hours=_lower_quartile(
                p.refrigerate_after_opening.min_hours for p in products if p.refrigerate_after_opening
            ),
            products=len(products),
        )

    def find(self, name: str, category: str | None = None) -> ReferenceProduct | None:
        """The product that best matches an item name (see the module docstring), or None."""
        key = (name, category)
        if key not in self._found:
            if len(self._found) >= _FIND_CACHE_SIZE:
                self._found.clear()
            self._found[key] = self._find(name, category)
        return self._found[key]

    def _find(self, name: str, category: str | None) -> ReferenceProduct | None:
        query = tuple(word_list(name))
        if not query:
            return None
        hinted = self.foodkeeper_category_ids(category) if category else frozenset()
        best: tuple[float, int] | None = None
        found: ReferenceProduct | None = None
        for entry in self._index:
            score = _score(entry, query, hinted)
            if score is None:
                continue
            key = (-score, entry.product.id)
            if best is None or key < best:
                best, found = key, entry.product
        return found


def _score(entry: _Index, query: tuple[str, ...], hinted: frozenset[int]) -> float | None:
    have = frozenset(query)
    in_hint = entry.product.category_id in hinted
    named = [(len(n) * points, n) for n, points in entry.names if n <= have]
    if named:
        score, used = max(named, key=lambda hit: (hit[0], len(hit[1])))
    else:
        phrases = [p for p in entry.phrases if p <= have]
        if not phrases or not in_hint:
            return None
        used = max(phrases, key=len)
        score = 4.0 * len(used) - 0.5 * len(entry.name_words - have)
    if query[-1] in used:
        score += 5
    score += len((have - used) & entry.extra)
    if in_hint:
        score += 5
    return score


def _lower_quartile(values: Iterable[float]) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[(len(ordered) - 1) // 4]


@cache
def load_reference() -> ReferenceTable:
    """The packaged table, loaded on first use and kept."""
    text = resources.files("freshtap.shelflife").joinpath(_TABLE_RESOURCE).read_text(encoding="ascii")
    return ReferenceTable(json.loads(text))


def product_by_id(product_id: int) -> ReferenceProduct | None:
    """The FoodKeeper product with this id, or None."""
    return load_reference().product(product_id)


def find_product(name: str, category: str | None = None) -> ReferenceProduct | None:
    """The FoodKeeper product best matching an item name, optionally hinted by its category."""
    return load_reference().find(name, category)


def products_in_category(category: str) -> tuple[ReferenceProduct, ...]:
    """The FoodKeeper products a freshtap category word covers."""
    return load_reference().in_category(category)


def category_life(category: str) -> CategoryLife | None:
    """Fallback lives for a freshtap category word (None: the word is not mapped)."""
    return load_reference().category_life(category)
