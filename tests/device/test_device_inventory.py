"""The agent's local inventory and its freshness, without a broker."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from freshtap.contract import Basis, FreshnessState, InventoryItem
from freshtap.device.freshness import with_freshness
from freshtap.device.inventory import Inventory
from freshtap.settings import FreshnessSettings

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def milk(item_id: str = "a1", label_expiry: date | None = date(2026, 11, 24)) -> InventoryItem:
    return InventoryItem(
        item_id=item_id,
        gtin="09506000134352",
        name="Whole milk 1 L",
        category="dairy",
        added_at=NOW - timedelta(days=2),
        label_expiry=label_expiry,
        expiry_kind="expiry",
    )


def test_add_remove_and_order() -> None:
    inv = Inventory()
    inv.add(milk("a1"))
    inv.add(milk("b2"))
    assert [i.item_id for i in inv.snapshot()] == ["a1", "b2"]
    with pytest.raises(ValueError, match="already"):
        inv.add(milk("a1"))
    assert inv.remove("a1").item_id == "a1"
    assert "a1" not in inv
    with pytest.raises(KeyError):
        inv.remove("a1")


def test_updates_are_validated_against_the_contract() -> None:
    inv = Inventory()
    inv.add(milk())
    assert inv.update("a1", fill=0.4).fill == 0.4
    with pytest.raises(ValidationError):
        inv.update("a1", fill=1.5)
    assert inv.get("a1") is not None
    assert inv.get("a1").fill == 0.4  # type: ignore[union-attr]


def test_first_opening_counts() -> None:
    inv = Inventory()
    inv.add(milk())
    first = inv.open("a1", NOW)
    again = inv.open("a1", NOW + timedelta(hours=3))
    assert first.opened_at == again.opened_at == NOW


def test_freshness_from_the_label() -> None:
    item = with_freshness(milk(), NOW, FreshnessSettings())
    assert item.freshness is not None
    assert item.freshness.basis is Basis.LABEL
    assert item.freshness.state is FreshnessState.EXPIRING  # 36 h left, under the 48 h threshold
    assert item.freshness.expires_at == datetime(2026, 11, 25, tzinfo=UTC)


def test_reference_life_when_the_label_has_no_date() -> None:
    item = with_freshness(milk(label_expiry=None), NOW, FreshnessSettings())
    assert item.freshness is not None
    assert item.freshness.basis is Basis.REFERENCE


def test_no_deadline_means_no_freshness_claim() -> None:
    mystery = milk(label_expiry=None).model_copy(update={"name": "Mystery jar", "category": "zz-unknown"})
    assert with_freshness(mystery, NOW, FreshnessSettings()).freshness is None
