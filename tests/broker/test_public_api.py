"""The broker package's public surface is explicit, and every module says what it is for."""

from __future__ import annotations

import importlib
import pkgutil

import freshtap.server.broker as package


def test_all_names_exist_and_are_sorted() -> None:
    assert package.__all__ == sorted(package.__all__)
    for name in package.__all__:
        assert hasattr(package, name), name


def test_every_module_has_a_docstring_and_an_explicit_surface() -> None:
    for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
        module = importlib.import_module(info.name)
        assert (module.__doc__ or "").strip(), info.name
        assert isinstance(getattr(module, "__all__", None), list), info.name
        for name in module.__all__:
            assert hasattr(module, name), (info.name, name)
