"""The door screen's and the Home Assistant bridge's public surfaces are explicit and importable."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("module_name", ["freshtap.device.screen", "freshtap.device.homeassistant"])
def test_all_is_complete_and_importable(module_name: str) -> None:
    module = importlib.import_module(module_name)
    names = module.__all__
    assert len(set(names)) == len(names)
    for name in names:
        assert getattr(module, name) is not None, name
    if module_name.endswith("screen"):
        public = {n for n, v in vars(module).items() if not n.startswith("_") and not isinstance(v, type(module))}
        assert public - set(names) <= {"annotations"}
