"""Fixtures for the shelf-life lane: settings, the packaged table and the FoodKeeper source."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from freshtap.settings import FreshnessSettings
from freshtap.shelflife import ReferenceTable, load_reference
from tests.conftest import missing_service

REPO = Path(__file__).resolve().parents[2]
SOURCE = (REPO / ".." / "shared" / "data" / "foodkeeper-fsis-v128.json").resolve()


@pytest.fixture(scope="session")
def source_path() -> Path:
    """The FoodKeeper source JSON; the test skips when the shared data folder is absent."""
    if not SOURCE.is_file():
        missing_service(f"FoodKeeper source not found at {SOURCE} (the shared data folder is not beside the repo)")
    return SOURCE


@pytest.fixture
def settings() -> FreshnessSettings:
    return FreshnessSettings()


@pytest.fixture(scope="session")
def table() -> ReferenceTable:
    return load_reference()


@pytest.fixture(scope="session")
def source_raw(source_path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(source_path.read_bytes())
    return data


@pytest.fixture(scope="session")
def source_products(source_raw: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """The source's Product sheet, one dict per row, by id."""
    sheet = next(s for s in source_raw["sheets"] if s["name"] == "Product")
    rows = [{k: v for cell in row for k, v in cell.items()} for row in sheet["data"]]
    return {row["ID"]: row for row in rows}


@pytest.fixture(scope="session")
def source_categories(source_raw: dict[str, Any]) -> dict[int, dict[str, Any]]:
    sheet = next(s for s in source_raw["sheets"] if s["name"] == "Category")
    rows = [{k: v for cell in row for k, v in cell.items()} for row in sheet["data"]]
    return {row["ID"]: row for row in rows}
