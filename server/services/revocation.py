"""Revoking a fridge's or a merchant's credentials without issuing new ones (an operator's call).

The verifier reads the credential row on every request and connect, so a revoked secret stops
working at its next HTTP call or MQTT CONNECT; a connection already open stays open until it
ends (docs/security.md).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session, select

from freshtap.clock import Clock
from freshtap.server.domain.errors import NotFound
from freshtap.server.store.models import Credential

__all__ = ["revoke_credentials"]


def revoke_credentials(sessions: Callable[[], Session], clock: Clock, kind: str, subject_id: str) -> int:
    """Revoke every live credential of a fridge or merchant; how many were live. NotFound if it has none at all."""
    now = clock.now()
    with sessions() as session:
        query = select(Credential).where(Credential.kind == kind, Credential.subject_id == subject_id)
        rows = session.exec(query).all()
        if not rows:
            raise NotFound(f"no {kind} {subject_id}")
        live = [row for row in rows if row.revoked_at is None]
        for row in live:
            row.revoked_at = now
            session.add(row)
        session.commit()
    return len(live)
