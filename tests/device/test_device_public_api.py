"""The public surface of `freshtap.device` and `freshtap.simulator` is explicit and importable."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("package", ["freshtap.device", "freshtap.simulator"])
def test_all_is_complete_and_importable(package: str) -> None:
    module = importlib.import_module(package)
    names = module.__all__
    assert len(set(names)) == len(names)
    for name in names:
        assert getattr(module, name) is not None
    public = {n for n, v in vars(module).items() if not n.startswith("_") and not isinstance(v, type(module))}
    assert public - set(names) <= {"annotations"}
