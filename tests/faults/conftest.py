"""The fault lane: a Mosquitto with persistence, PostgreSQL, provisioned fridges, and server workers
(in this process, or as `freshtap server` subprocesses that can be killed with SIGKILL).

Fast cases are unmarked and run in `make test`; the long ones are marked `faults` and run with
`make faults` (`--run-faults`). Both need Mosquitto and PostgreSQL, and skip without them unless
FRESHTAP_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.faults.deployment import MakeStack, fault_stack_factory
from tests.faults.ledger import REPORTS

__all__ = ["MakeStack"]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if REPORTS:
        terminalreporter.section("fault runs")
        for report in REPORTS:
            terminalreporter.write_line(report.line())


@pytest.fixture
def make_fault_stack(request: pytest.FixtureRequest, tmp_path: Path, mosquitto_binary: str) -> MakeStack:
    """`make_fault_stack(fridges=10, broker=BrokerSettings(...))`: provisioned and configured, broker started."""
    return fault_stack_factory(request, tmp_path, mosquitto_binary)

