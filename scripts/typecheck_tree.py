"""Lay out the package as it is installed, with symlinks, so mypy can follow `freshtap.server` & co.

setuptools maps `server/` to `freshtap.server` (and so on); mypy cannot read that mapping, and the
editable install's import hook is invisible to it. This builds `build/typecheck/freshtap/` whose
entries point back at the source files, and prints its path.
"""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MAPPED = {"server": "server", "device": "device", "simulator": "simulator", "firmware_mock": "firmware-mock"}


def build() -> Path:
    tree = REPO / "build" / "typecheck"
    if tree.exists():
        shutil.rmtree(tree)
    root = tree / "freshtap"
    root.mkdir(parents=True)
    for entry in (REPO / "src" / "freshtap").iterdir():
        if entry.name != "__pycache__":
            (root / entry.name).symlink_to(entry)
    for name, folder in MAPPED.items():
        (root / name).symlink_to(REPO / folder)
    return root


if __name__ == "__main__":
    print(build())
