"""One distribution built from src/ and the top-level folders: every sub-package ships and imports
from the built wheel (not from the source tree), with its data files."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FOLDERS = {"freshtap": "src/freshtap", "freshtap.server": "server", "freshtap.device": "device",
           "freshtap.simulator": "simulator", "freshtap.firmware_mock": "firmware-mock"}


def _source_packages() -> list[str]:
    names = []
    for package, folder in FOLDERS.items():
        root = REPO / folder
        for init in sorted(root.rglob("__init__.py")):
            relative = init.parent.relative_to(root)
            if "__pycache__" in relative.parts:
                continue
            names.append(".".join([package, *relative.parts]))
    return names


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(REPO)],
                   check=True, capture_output=True, timeout=300)
    (built,) = out.glob("freshtap-*.whl")
    return built


def test_wheel_holds_every_package_and_its_data(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for package in _source_packages():
        assert package.replace(".", "/") + "/__init__.py" in names, package
    assert "freshtap/server/store/migrations/env.py" in names
    assert "freshtap/server/store/migrations/script.py.mako" in names
    assert any(n.startswith("freshtap/server/store/migrations/versions/0001") for n in names)
    assert "freshtap/shelflife/foodkeeper.json" in names
    assert "freshtap/py.typed" in names


def test_every_package_imports_from_the_installed_wheel(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    packages = _source_packages()
    script = (
        "import importlib, sys\n"
        f"root = {str(target)!r}\n"
        f"for name in {packages!r}:\n"
        "    module = importlib.import_module(name)\n"
        "    assert module.__file__.startswith(root), (name, module.__file__)\n"
        "print('ok', len(sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], env={"PYTHONPATH": str(target)}, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok")


def test_public_packages_declare_their_surface() -> None:
    missing = []
    for module in ("freshtap.contract", "freshtap.clock", "freshtap.settings", "freshtap.gtin",
                   "freshtap.shelflife", "freshtap.server.domain.offers", "freshtap.server.payments"):
        imported = __import__(module, fromlist=["__all__"])
        if not getattr(imported, "__all__", None):
            missing.append(module)
        for name in getattr(imported, "__all__", []):
            assert hasattr(imported, name), f"{module}.__all__ names {name}, which it lacks"
    assert missing == []
