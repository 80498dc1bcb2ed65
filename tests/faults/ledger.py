"""What a fault run counts, and how it says it: sent, acknowledged, stored, duplicates suppressed, lost.

- sent: QoS 1 messages the fridges handed to their MQTT client.
- acknowledged: of those, the ones the broker PUBACKed (it took responsibility for them).
- stored: of those, the ones the server applied (a row in `appliedmessage`).
- duplicates suppressed: redeliveries the server recognised and skipped (its own counter).
- lost: acknowledged but never stored. The acceptance number; it must be 0 where it is promised.
- duplicate effects: telemetry readings stored twice for one message. Must always be 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, text

__all__ = [
    "REPORTS",
    "FaultReport",
    "duplicate_effects",
    "duplicates_in_metrics",
    "duplicates_in_registry",
    "stored_keys",
]

REPORTS: list[FaultReport] = []
"""Every report of this session, printed again in the terminal summary (tests/faults/conftest.py)."""


@dataclass
class FaultReport:
    case: str
    sent: int
    acknowledged: int
    stored: int
    duplicates_suppressed: int
    lost: int
    duplicate_effects: int
    faults: list[str] = field(default_factory=list)
    notes: dict[str, object] = field(default_factory=dict)

    def line(self) -> str:
        faults = ", ".join(self.faults) or "none"
        notes = "".join(f" {k}={v}" for k, v in self.notes.items())
        return (
            f"[faults] {self.case}: sent={self.sent} acknowledged={self.acknowledged} stored={self.stored} "
            f"duplicates_suppressed={self.duplicates_suppressed} lost={self.lost} "
            f"duplicate_effects={self.duplicate_effects} faults=[{faults}]{notes}"
        )

    def publish(self) -> FaultReport:
        REPORTS.append(self)
        print(self.line(), flush=True)
        return self


def stored_keys(engine: Engine) -> set[tuple[str, int]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT fridge_id, seq FROM appliedmessage")).all()
    return {(str(fridge_id), int(seq)) for fridge_id, seq in rows}


def duplicate_effects(engine: Engine) -> int:
    """Telemetry readings beyond one per (fridge, observed at, compartment)."""
    with engine.connect() as conn:
        total, distinct = conn.execute(
            text(
                "SELECT count(*), (SELECT count(*) FROM"
                " (SELECT DISTINCT fridge_id, at, compartment FROM telemetryreading) AS d)"
                " FROM telemetryreading"
            )
        ).one()
    return int(total) - int(distinct)


_DUPLICATE = re.compile(r'^freshtap_ingest_messages_total\{[^}]*outcome="duplicate"[^}]*\}\s+([0-9.e+]+)$', re.M)


def duplicates_in_metrics(exposition: str) -> int:
    """The server's `freshtap_ingest_messages_total{outcome="duplicate"}`, summed over types."""
    return int(sum(float(value) for value in _DUPLICATE.findall(exposition)))


def duplicates_in_registry(registry: CollectorRegistry) -> int:
    """The same counter, read from an in-process server's registry."""
    return int(
        sum(
            registry.get_sample_value("freshtap_ingest_messages_total", {"type": kind, "outcome": "duplicate"}) or 0
            for kind in ("telemetry", "inventory", "event")
        )
    )
