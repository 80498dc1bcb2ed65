"""Credentials: issuing, hashing and verifying fridges' passwords and merchants' API keys."""

from freshtap.server.security.credentials import (
    Caller,
    CredentialVerifier,
    FridgeCaller,
    MerchantCaller,
    hash_secret,
    issue_secret,
)

__all__ = ["Caller", "CredentialVerifier", "FridgeCaller", "MerchantCaller", "hash_secret", "issue_secret"]
