"""docs/security.md lists only tests that exist (its controls table names them file::test)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_test_the_security_doc_names_exists() -> None:
    named, missing = 0, []
    for line in (ROOT / "docs" / "security.md").read_text().splitlines():
        if not line.startswith("|"):
            continue
        current: str | None = None
        for part in (p.strip() for p in line.split("|")[-2].split(",")):
            found = re.match(r"(tests/\S+\.py)::(\w+)", part) or re.match(r"::(\w+)", part)
            if found is None:
                continue
            if found.re.pattern.startswith("(tests"):
                current, name = found.group(1), found.group(2)
            else:
                name = found.group(1)
            assert current is not None, line
            named += 1
            if f"def {name}(" not in (ROOT / current).read_text():
                missing.append(f"{current}::{name}")
    assert named >= 30
    assert not missing, missing
