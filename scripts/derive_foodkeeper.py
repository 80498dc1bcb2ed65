"""Derive freshtap's compact FoodKeeper table from the USDA FSIS FoodKeeper workbook (as JSON).

    python scripts/derive_foodkeeper.py [--source PATH] [--output PATH] [--check]

The source is the FoodKeeper workbook (`FMA-Data-*.xlsx`) exported sheet by sheet to JSON, each
row a list of one-key objects. The output, shipped in the package as
`src/freshtap/shelflife/foodkeeper.json`, keeps per product its id, name, subtitle, category,
keywords and, for each storage kind, the source min/max with their unit and the same converted
to hours. Entries whose metric is not a duration ("Package use-by date", "When Ripe",
"Indefinitely", "Not Recommended") are kept as flags, never as numbers. No duration is typed
here: every number comes from the source.

Output is deterministic (sorted keys, ASCII, one product per line), so re-running the script on
the same source reproduces the shipped file byte for byte; `--check` verifies exactly that.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = (REPO / ".." / "shared" / "data" / "foodkeeper-fsis-v128.json").resolve()
DEFAULT_OUTPUT = REPO / "src" / "freshtap" / "shelflife" / "foodkeeper.json"

# Calendar conventions, ours: a month is 30 days, a year 365 days.
HOURS_PER_UNIT: dict[str, int] = {
    "Hours": 1,
    "Days": 24,
    "Weeks": 7 * 24,
    "Months": 30 * 24,
    "Year": 365 * 24,
    "Years": 365 * 24,
}

# Storage kind -> source column prefixes, first preferred. `DOP_` columns count from the date of
# purchase; the plain columns are FoodKeeper's general storage time for the same place, used when
# a product has no from-purchase figure that is a duration.
STORAGE_COLUMNS: dict[str, tuple[str, ...]] = {
    "refrigerate": ("DOP_Refrigerate", "Refrigerate"),
    "refrigerate_after_opening": ("Refrigerate_After_Opening",),
    "freeze": ("DOP_Freeze", "Freeze"),
    "pantry": ("DOP_Pantry", "Pantry"),
    "pantry_after_opening": ("Pantry_After_Opening",),
}

ATTRIBUTION = (
    "Shelf-life durations: USDA Food Safety and Inspection Service (FSIS), FoodKeeper data, "
    "a work of the U.S. Government in the public domain. Converted to hours by freshtap "
    "(scripts/derive_foodkeeper.py); the mapping to freshtap categories is freshtap's own."
)
SOURCE_URL = "https://www.foodsafety.gov/keep-food-safe/foodkeeper-app"


def _rows(sheet: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A sheet's rows as plain dicts (the export stores each cell as a one-key object)."""
    return [{key: value for cell in row for key, value in cell.items()} for row in sheet["data"]]


def _sheets(source: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {sheet["name"]: _rows(sheet) for sheet in source["sheets"]}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None


def _keywords(value: Any) -> list[str]:
    seen: dict[str, None] = {}
    for part in str(value or "").split(","):
        word = " ".join(part.split())
        if word and word.lower() not in {k.lower() for k in seen}:
            seen[word] = None
    return list(seen)


def _number(value: float) -> int | float:
    """Whole numbers as ints, so the table reads as the source does."""
    return int(value) if value.is_integer() else value


def _storage_entry(row: Mapping[str, Any], column: str) -> tuple[dict[str, Any] | None, str | None]:
    """One column's duration as a table entry, or why it is not one (None, None: empty)."""
    metric = row.get(f"{column}_Metric")
    low, high = row.get(f"{column}_Min"), row.get(f"{column}_Max")
    if metric is None:
        return None, (None if low is None and high is None else "no unit")
    if metric not in HOURS_PER_UNIT:
        return None, str(metric)
    if not all(v is None or (isinstance(v, int | float) and not isinstance(v, bool)) for v in (low, high)):
        return None, "not a number"
    if low is None and high is None:
        return None, "no value"
    entry: dict[str, Any] = {"source": column, "unit": metric}
    if low is None:
        entry["note"] = "min missing in source; taken as max"
    elif high is None:
        entry["note"] = "max missing in source; taken as min"
    present = [float(v) for v in (low, high) if v is not None]
    least = float(low) if low is not None else present[0]
    most = float(high) if high is not None else present[0]
    if most < least:
        return None, "max below min"
    per = HOURS_PER_UNIT[metric]
    entry.update(
        min=_number(least), max=_number(most), min_hours=_number(least * per), max_hours=_number(most * per)
    )
    return entry, None


def _product(row: Mapping[str, Any], categories: Mapping[int, Mapping[str, Any]]) -> dict[str, Any]:
    category = categories.get(row["Category_ID"], {})
    storage: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for kind, columns in STORAGE_COLUMNS.items():
        for column in columns:
            entry, why = _storage_entry(row, column)
            if why is not None:
                skipped[column] = why
            if entry is not None and kind not in storage:
                storage[kind] = entry
    return {
        "id": row["ID"],
        "name": _text(row.get("Name")),
        "subtitle": _text(row.get("Name_subtitle")),
        "category_id": row["Category_ID"],
        "category": _text(category.get("Category_Name")),
        "subcategory": _text(category.get("Subcategory_Name")),
        "keywords": _keywords(row.get("Keywords")),
        "storage": storage,
        "skipped": skipped,
    }


def _version(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    current = [r for r in rows if str(r.get("Current_Version") or "").strip().lower() == "yes"]
    row = current[-1] if current else max(rows, key=lambda r: r["Data_Version_Number"])
    modified = row.get("Modified_Date")
    if isinstance(modified, str):
        modified = datetime.strptime(modified, "%m-%d-%Y").date().isoformat()
    return {"data_version": row["Data_Version_Number"], "modified": modified}


def derive(source: Mapping[str, Any], source_bytes: bytes) -> dict[str, Any]:
    """The compact table for one parsed source (and its raw bytes, for the checksum)."""
    sheets = _sheets(source)
    categories = {row["ID"]: row for row in sheets["Category"]}
    products = sorted((_product(row, categories) for row in sheets["Product"]), key=lambda p: p["id"])
    return {
        "attribution": ATTRIBUTION,
        "categories": [
            {
                "id": cid,
                "name": _text(row.get("Category_Name")),
                "subcategory": _text(row.get("Subcategory_Name")),
            }
            for cid, row in sorted(categories.items())
        ],
        "hours_per_unit": HOURS_PER_UNIT,
        "products": products,
        "source": {
            "file": source.get("fileName"),
            "sha256": hashlib.sha256(source_bytes).hexdigest(),
            "url": SOURCE_URL,
            **_version(sheets["Version"]),
        },
    }


def render(table: Mapping[str, Any]) -> bytes:
    """Deterministic text: sorted keys, ASCII, one category or product per line."""

    def dump(value: Any) -> str:
        return json.dumps(value, sort_keys=True, ensure_ascii=True, separators=(",", ":"))

    lines = ["{"]
    keys = sorted(table)
    for index, key in enumerate(keys):
        value = table[key]
        comma = "," if index < len(keys) - 1 else ""
        if isinstance(value, list):
            lines.append(f"{dump(key)}:[")
            lines.extend(dump(item) + ("," if i < len(value) - 1 else "") for i, item in enumerate(value))
            lines.append(f"]{comma}")
        else:
            lines.append(f"{dump(key)}:{dump(value)}{comma}")
    lines.append("}")
    return ("\n".join(lines) + "\n").encode("ascii")


def build(source_path: Path) -> bytes:
    """Read the source file and return the derived table's bytes."""
    raw = source_path.read_bytes()
    return render(derive(json.loads(raw), raw))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--check", action="store_true", help="fail if the output is not up to date")
    args = parser.parse_args(argv)
    data = build(args.source)
    if args.check:
        current = args.output.read_bytes() if args.output.exists() else b""
        if current != data:
            print(f"{args.output} is not what {args.source} derives; re-run without --check")
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.write_bytes(data)
    print(f"wrote {args.output} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
