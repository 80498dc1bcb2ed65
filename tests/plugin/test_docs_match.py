"""docs/testing-with-the-simulator.md shows exactly the example the suite runs."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_documented_example_is_the_tested_file() -> None:
    doc = (REPO / "docs" / "testing-with-the-simulator.md").read_text(encoding="utf-8")
    marker = "<!-- example: tests/plugin/test_docs_example.py -->"
    assert marker in doc
    block = re.search(re.escape(marker) + r"\s*```python\n(.*?)```", doc, re.DOTALL)
    assert block is not None, "the example's code block must follow its marker"
    assert block.group(1) == (REPO / "tests" / "plugin" / "test_docs_example.py").read_text(encoding="utf-8")
