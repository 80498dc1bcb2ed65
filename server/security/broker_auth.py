"""Who may log in to the embedded broker: provisioned fridges and the server itself.

A fridge logs in with its fridge id as username (and client id) and its provisioned password,
checked against the stored argon2 hash; the server's own account has a password held only in
this process's settings.
"""

from __future__ import annotations

import hmac

from freshtap.server.broker.acl import Principal
from freshtap.server.security.credentials import CredentialVerifier, FridgeCaller

__all__ = ["DatabaseBrokerAuthenticator"]


class DatabaseBrokerAuthenticator:
    def __init__(self, verifier: CredentialVerifier, server_username: str, server_password: str) -> None:
        self._verifier = verifier
        self._server_username = server_username
        self._server_password = server_password

    def authenticate(self, username: str | None, password: str | None, client_id: str) -> Principal | None:
        if not username or not password:
            return None
        if hmac.compare_digest(username.encode(), self._server_username.encode()):
            if hmac.compare_digest(password.encode(), self._server_password.encode()):
                return Principal(username=username, role="server", fridge_id=None)
            return None
        caller = self._verifier.verify(password)
        if isinstance(caller, FridgeCaller) and caller.fridge_id == username:
            return Principal(username=username, role="fridge", fridge_id=caller.fridge_id)
        return None
