"""Random, prefixed identifiers (`hh_…`, `m_…`, `prd_…`): unguessable and self-describing."""

from __future__ import annotations

import secrets

__all__ = ["new_id"]


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"
