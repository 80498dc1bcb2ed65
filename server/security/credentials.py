"""Secrets that say who is calling, stored only as argon2 hashes.

A secret reads `<key_id>.<random>`: the key id finds the row, the whole secret is checked against
the argon2 hash. Checking argon2 on every request would cost tens of milliseconds, so a verified
secret is remembered in memory by its SHA-256 — but the row is read on every call, so a revoked
or rotated credential stops working at the next request or connect.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session

from freshtap.server.store.models import Credential, Fridge

__all__ = ["Caller", "CredentialVerifier", "FridgeCaller", "MerchantCaller", "hash_secret", "issue_secret"]

# OWASP's second recommended argon2id setting (19 MiB, 2 passes): sturdy, yet fast enough that
# provisioning a thousand simulated fridges does not take minutes.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


@dataclass(frozen=True)
class FridgeCaller:
    fridge_id: str
    household_id: str


@dataclass(frozen=True)
class MerchantCaller:
    merchant_id: str


Caller = FridgeCaller | MerchantCaller


def issue_secret() -> tuple[str, str]:
    """A new `(key_id, secret)` pair."""
    key_id = secrets.token_hex(6)
    return key_id, f"{key_id}.{secrets.token_urlsafe(24)}"


def hash_secret(secret: str) -> str:
    return _HASHER.hash(secret)


class CredentialVerifier:
    def __init__(self, sessions: Callable[[], Session]) -> None:
        self._sessions = sessions
        self._verified: dict[str, str] = {}  # sha256(secret) -> secret_hash it was verified against
        self._lock = threading.Lock()

    def verify(self, secret: str) -> Caller | None:
        """The caller a secret belongs to, or None for an unknown, wrong or revoked one."""
        key_id, dot, _ = secret.partition(".")
        if not dot or not key_id or len(secret) > 200:
            return None
        with self._sessions() as session:
            credential = session.get(Credential, key_id)
            if credential is None or credential.revoked_at is not None:
                return None
            if not self._check(secret, credential.secret_hash):
                return None
            if credential.kind == "merchant":
                return MerchantCaller(credential.subject_id)
            if credential.kind == "fridge":
                fridge = session.get(Fridge, credential.subject_id)
                if fridge is None:
                    return None
                return FridgeCaller(fridge.id, fridge.household_id)
        return None

    def _check(self, secret: str, secret_hash: str) -> bool:
        digest = hashlib.sha256(secret.encode()).hexdigest()
        with self._lock:
            remembered = self._verified.get(digest)
        if remembered is not None and hmac.compare_digest(remembered, secret_hash):
            return True
        try:
            _HASHER.verify(secret_hash, secret)
        except (VerificationError, InvalidHashError):
            return False
        with self._lock:
            if len(self._verified) > 100_000:
                self._verified.clear()
            self._verified[digest] = secret_hash
        return True
