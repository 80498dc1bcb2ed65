"""Finding FoodKeeper products by id, by an item's name and by freshtap category."""

from __future__ import annotations

import pytest

from freshtap.shelflife import (
    CATEGORY_WORDS,
    ReferenceTable,
    category_life,
    category_rule,
    find_product,
    load_reference,
    normalise_category,
    product_by_id,
    products_in_category,
)


def test_table_loads_once() -> None:
    assert load_reference() is load_reference()


def test_by_id(table: ReferenceTable) -> None:
    first = table.products[0]
    assert product_by_id(first.id) is first
    assert product_by_id(-1) is None


@pytest.mark.parametrize(
    ("query", "category", "name", "subtitle_has"),
    [
        ("Whole milk 1 L", "dairy", "Milk", "plain"),
        ("Whole milk 1 L", None, "Milk", "plain"),
        ("Semi-skimmed milk", "dairy", "Milk", "plain"),
        ("Greek yogurt", None, "Yogurt", None),
        ("Greek yogurt 500 g", "dairy", "Yogurt", None),
        ("Eggs 10 pack", "eggs", "Eggs", "shell"),
        ("Cheddar 200 g", "dairy", "Cheese", "cheddar"),
        ("Butter", "dairy", "Butter", None),
        ("Orange juice 1 L", "beverages", "Orange juice", "carton"),
        ("Strawberries 250 g", "fruit", "Strawberries", None),
        ("Romaine lettuce", "vegetables", "Lettuce", "romaine"),
        ("Minced beef 500 g", "meat", "Beef", "ground"),
        ("Ground beef", "meat", "Beef", "ground"),
        ("Tomato ketchup", "condiments", "Ketchup, cocktail, or chili sauce", None),
        ("Chicken salad", "deli", "Chicken salad", None),
        ("Cottage cheese", None, "Cottage cheese", None),
        ("Half and half cream", "dairy", "Cream", "half and half"),
    ],
)
def test_by_name(query: str, category: str | None, name: str, subtitle_has: str | None) -> None:
    product = find_product(query, category)
    assert product is not None, query
    assert product.name == name
    if subtitle_has is not None:
        assert product.subtitle is not None and subtitle_has in product.subtitle.lower()


@pytest.mark.parametrize(
    ("query", "category"),
    [("Mystery box", "stuff"), ("xyz", None), ("", "dairy"), ("500 g", "dairy"), ("Cheddar", None)],
)
def test_no_match(query: str, category: str | None) -> None:
    # A keyword alone ("cheddar", "box") only counts inside the item's mapped category.
    assert find_product(query, category) is None


def test_lookup_is_deterministic_and_case_blind() -> None:
    first = find_product("WHOLE MILK", "Dairy")
    assert first is not None
    assert all(find_product("whole milk", "dairy") == first for _ in range(3))


def test_category_words_resolve(table: ReferenceTable) -> None:
    for word in CATEGORY_WORDS:
        products = products_in_category(word)
        assert products, word
        assert {p.category_id for p in products} <= table.foodkeeper_category_ids(word)


@pytest.mark.parametrize(
    ("word", "foodkeeper_category"),
    [
        ("dairy", "Dairy Products & Eggs"),
        ("meat", "Meat"),
        ("poultry", "Poultry"),
        ("seafood", "Seafood"),
        ("fruit", "Produce"),
        ("vegetables", "Produce"),
        ("beverages", "Beverages"),
        ("deli", "Deli & Prepared Foods"),
        ("bakery", "Baked Goods"),
        ("condiments", "Condiments, Sauces & Canned Goods"),
    ],
)
def test_category_mapping(word: str, foodkeeper_category: str) -> None:
    assert {p.category for p in products_in_category(word)} == {foodkeeper_category}


def test_eggs_are_the_egg_products_of_dairy_and_eggs() -> None:
    eggs = products_in_category("eggs")
    assert eggs and all("egg" in (p.name + " ".join(p.keywords)).lower() for p in eggs)
    assert set(eggs) < set(products_in_category("dairy"))


def test_aliases_and_unknown_words() -> None:
    assert normalise_category(" Fish ") == "seafood"
    assert category_rule("Vegetable") == CATEGORY_WORDS["vegetables"]
    assert category_rule("spaceship") is None
    assert products_in_category("spaceship") == ()
    assert category_life("spaceship") is None


def test_category_life_is_the_lower_quartile_of_foodkeeper_minimums() -> None:
    for word in CATEGORY_WORDS:
        life = category_life(word)
        assert life is not None
        fridge = sorted(p.refrigerate.min_hours for p in products_in_category(word) if p.refrigerate)
        if fridge:
            assert life.refrigerate_hours == fridge[(len(fridge) - 1) // 4]
            assert sum(h >= life.refrigerate_hours for h in fridge) >= 0.75 * len(fridge)
        else:
            assert life.refrigerate_hours is None


def test_storage_life_describe_uses_source_words() -> None:
    yogurt = find_product("Yogurt", "dairy")
    assert yogurt is not None and yogurt.refrigerate is not None
    life = yogurt.refrigerate
    assert life.describe() == f"{life.min:g}-{life.max:g} {life.unit.lower()}"
