"""The public surface of `freshtap.shelflife` is explicit and complete."""

from __future__ import annotations

import dataclasses
import importlib
from datetime import UTC, datetime

import pytest

import freshtap.shelflife as shelflife

# Modules whose public names are the package's; timeline and explanation are internal.
PUBLIC_MODULES = ["assessment", "categories", "facts", "label", "model", "rate_law", "reference", "runout"]


def test_all_names_exist_and_are_unique() -> None:
    for name in shelflife.__all__:
        assert hasattr(shelflife, name), name
    assert len(set(shelflife.__all__)) == len(shelflife.__all__)


def test_every_public_module_name_is_exported() -> None:
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(f"freshtap.shelflife.{module_name}")
        for name in module.__all__:
            assert name in shelflife.__all__, f"{module_name}.{name} is not exported"
            assert getattr(shelflife, name) is getattr(module, name)


def test_server_entry_points() -> None:
    from freshtap.shelflife import ItemFacts, assess  # what the server imports

    facts = ItemFacts("Milk", "dairy", datetime(2026, 11, 20, tzinfo=UTC))
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(facts, "name", "Cream")  # noqa: B010 - the point is to try
    assert callable(assess)
