"""The shipped FoodKeeper table against its source: every number is FoodKeeper's, unchanged.

Expected values are read from the source JSON at test time, never typed here.
"""

from __future__ import annotations

import importlib.util
import json
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from freshtap.shelflife import ReferenceProduct, ReferenceTable, StorageLife

# Our calendar convention (a month is 30 days, a year 365), as the derive script documents it.
UNIT = {
    "Hours": timedelta(hours=1),
    "Days": timedelta(days=1),
    "Weeks": timedelta(weeks=1),
    "Months": timedelta(days=30),
    "Year": timedelta(days=365),
    "Years": timedelta(days=365),
}
KINDS = {
    "refrigerate": ("DOP_Refrigerate", "Refrigerate"),
    "refrigerate_after_opening": ("Refrigerate_After_Opening",),
    "freeze": ("DOP_Freeze", "Freeze"),
    "pantry": ("DOP_Pantry", "Pantry"),
    "pantry_after_opening": ("Pantry_After_Opening",),
}

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "src" / "freshtap" / "shelflife" / "foodkeeper.json"
DERIVE_SCRIPT = REPO / "scripts" / "derive_foodkeeper.py"

_SHIPPED = json.loads(SHIPPED.read_text())
# Every fifth product with any duration: ~80 products across all categories.
SAMPLE_IDS = [p["id"] for p in _SHIPPED["products"] if p["storage"]][::5]


def _source_duration(row: dict[str, Any], column: str) -> tuple[float, float, str] | None:
    metric = row.get(f"{column}_Metric")
    given = [row.get(f"{column}_Min"), row.get(f"{column}_Max")]
    present = [float(v) for v in given if v is not None]
    if metric not in UNIT or not present:
        return None
    # The source sometimes gives only one end of the range; the table then uses it for both.
    low = float(given[0]) if given[0] is not None else present[0]
    high = float(given[1]) if given[1] is not None else present[0]
    return low, high, str(metric)


def _check(product: ReferenceProduct, row: dict[str, Any], categories: dict[int, dict[str, Any]]) -> None:
    assert product.name == " ".join(row["Name"].split())
    assert product.subtitle == (" ".join(row["Name_subtitle"].split()) if row.get("Name_subtitle") else None)
    assert product.category_id == row["Category_ID"]
    assert product.category == categories[row["Category_ID"]]["Category_Name"]
    source_words = {w.strip().lower() for w in (row.get("Keywords") or "").split(",") if w.strip()}
    assert {" ".join(k.split()).lower() for k in product.keywords} == {
        " ".join(w.split()) for w in source_words
    }
    for kind, columns in KINDS.items():
        life: StorageLife | None = getattr(product, kind)
        durations = [(c, _source_duration(row, c)) for c in columns]
        expected = next(((c, d) for c, d in durations if d is not None), None)
        if expected is None:
            assert life is None, (product.id, kind)
            continue
        column, (low, high, metric) = expected
        assert life is not None, (product.id, kind)
        assert life.source == column
        assert (life.min, life.max, life.unit) == (low, high, metric)
        assert life.min_hours == pytest.approx(low * UNIT[metric] / timedelta(hours=1))
        assert life.max_hours == pytest.approx(high * UNIT[metric] / timedelta(hours=1))
    flagged = dict(product.skipped)
    for columns in KINDS.values():
        for column in columns:
            word = row.get(f"{column}_Metric")
            if word is not None and word not in UNIT:
                assert flagged.get(column) == word, (product.id, column)


@pytest.mark.parametrize("product_id", SAMPLE_IDS)
def test_product_matches_source(
    product_id: int,
    table: ReferenceTable,
    source_products: dict[int, dict[str, Any]],
    source_categories: dict[int, dict[str, Any]],
) -> None:
    product = table.product(product_id)
    assert product is not None
    _check(product, source_products[product_id], source_categories)


def test_sample_is_large_enough() -> None:
    assert len(SAMPLE_IDS) >= 30
    assert len({p["category_id"] for p in _SHIPPED["products"] if p["id"] in SAMPLE_IDS}) >= 15


def test_every_product_matches_source(
    table: ReferenceTable,
    source_products: dict[int, dict[str, Any]],
    source_categories: dict[int, dict[str, Any]],
) -> None:
    assert {p.id for p in table.products} == set(source_products)
    for product in table.products:
        _check(product, source_products[product.id], source_categories)


def test_non_durations_are_flags_not_numbers(table: ReferenceTable) -> None:
    flags = {why for p in table.products for _, why in p.skipped}
    assert {"Package use-by date", "When Ripe", "Not Recommended", "Indefinitely"} <= flags
    milk = table.find("Milk", "dairy")
    assert milk is not None and milk.refrigerate is None
    assert ("Refrigerate", "Package use-by date") in milk.skipped


def test_attribution_and_version(table: ReferenceTable, source_raw: dict[str, Any]) -> None:
    assert "FoodKeeper" in table.attribution and "public domain" in table.attribution
    assert table.source["file"] == source_raw["fileName"]
    versions = next(s for s in source_raw["sheets"] if s["name"] == "Version")["data"]
    current = [{k: v for c in r for k, v in c.items()} for r in versions]
    current = [r for r in current if r.get("Current_Version") == "Yes"]
    assert table.source["data_version"] == current[-1]["Data_Version_Number"]


def _derive_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("derive_foodkeeper", DERIVE_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_derive_script_reproduces_shipped_file_byte_for_byte(source_path: Path) -> None:
    derive = _derive_module()
    assert derive.build(source_path) == SHIPPED.read_bytes()


def test_derive_script_check_mode(source_path: Path, tmp_path: Path) -> None:
    derive = _derive_module()
    out = tmp_path / "foodkeeper.json"
    args = ["--source", str(source_path), "--output", str(out)]
    assert derive.main(args) == 0
    assert derive.main([*args, "--check"]) == 0
    out.write_bytes(out.read_bytes().replace(b'"Milk"', b'"Milks"'))
    assert derive.main([*args, "--check"]) == 1
