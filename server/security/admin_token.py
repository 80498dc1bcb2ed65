"""The admin token: compared as a SHA-256 digest, in constant time, and never logged.

The operator sets `FRESHTAP_ADMIN_TOKEN` (or only its digest, `FRESHTAP_ADMIN_TOKEN_SHA256`, so
the token itself never sits in the server's environment). Neither set, the admin API is off.
A token is long and random, so one round of SHA-256 is enough (unlike a PIN or a password, it
cannot be guessed from a dictionary); comparing digests also makes the comparison's time
independent of the token's length.
"""

from __future__ import annotations

import hashlib
import hmac

from freshtap.settings import Settings

__all__ = ["admin_token_digest", "admin_token_matches", "digest_of"]


def digest_of(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", errors="surrogatepass")).digest()


def admin_token_digest(settings: Settings) -> bytes | None:
    """The digest a presented admin token must match; None when the admin API is off."""
    if settings.admin_token_sha256 is not None:
        return bytes.fromhex(settings.admin_token_sha256)
    if settings.admin_token is not None and settings.admin_token.get_secret_value():
        return digest_of(settings.admin_token.get_secret_value())
    return None


def admin_token_matches(presented: str, expected: bytes) -> bool:
    return hmac.compare_digest(digest_of(presented), expected)
