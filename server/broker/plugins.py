"""freshtap's authentication and topic rules as amqtt 0.12.1 plugins, and the policy behind them.

The embedded broker lists `AuthPlugin` and `TopicAclPlugin` in its config's `plugins` dict, which
replaces amqtt's defaults (anonymous login, `$SYS`, packet logging). Both plugins delegate to one
`BrokerPolicy`, handed to them through their plugin config, which

- calls the `Authenticator` (sync and possibly slow, like argon2) on a small thread pool, binds a
  fridge's client id to its username, and keeps the resulting `Principal` on the amqtt session;
- answers every publish, subscribe and delivery with the pure rules of `acl.py`;
- counts what it refused, for the server's /metrics.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Protocol

from amqtt.contexts import Action, BaseContext
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import Session

from freshtap.server.broker.acl import Principal, may_publish, may_receive, may_subscribe

__all__ = ["COUNTERS", "PRINCIPAL_KEY", "AuthPlugin", "Authenticator", "BrokerPolicy", "TopicAclPlugin"]

logger = logging.getLogger(__name__)

PRINCIPAL_KEY = "freshtap.principal"
"""Where the authenticated `Principal` lives in an amqtt `Session.attributes`."""

COUNTERS = (
    "auth_refused",  # anonymous, unknown user, wrong password, client id not bound to the username
    "publish_denied",  # publish (or a CONNECT's will) to a topic the client may not publish to
    "subscribe_denied",  # subscription the client may not hold: SUBACK 0x80
    "oversized",  # packet or payload over the limit: connection dropped
    "malformed",  # first packet not a CONNECT, broken remaining length
    "connect_timeout",  # no complete CONNECT in time
    "queue_dropped",  # QoS 1 message not queued for a client whose queue was full
    "rate_limited",  # QoS 0 publish dropped: the fridge was over its publish quota
    "flood_banned",  # fridge over its publish quota for too long: banned, disconnected
    "connect_rate",  # username or address connecting in a loop: banned
    "banned",  # connection or CONNECT of a banned username or address refused
    "session_expired",  # persistent session deleted after its client stayed away too long
)


class Authenticator(Protocol):
    """Checks a client's credentials; returns who it is, or None to refuse it.

    Called on a worker thread, never on the broker's event loop, so it may block (argon2).
    """

    def authenticate(self, username: str | None, password: str | None, client_id: str) -> Principal | None: ...


class BrokerPolicy:
    """The decisions of the embedded broker, shared by its plugins and its `Broker` subclass."""

    def __init__(self, authenticator: Authenticator, executor: Executor | None, max_payload: int) -> None:
        self._authenticator = authenticator
        self._executor = executor
        self.max_payload = max_payload
        self._counts = dict.fromkeys(COUNTERS, 0)

    def count(self, kind: str) -> None:
        self._counts[kind] += 1

    def counters(self) -> dict[str, int]:
        """A snapshot of the refusal counters (the keys of `COUNTERS`)."""
        return dict(self._counts)

    async def authenticate(self, username: str | None, password: str | None, client_id: str | None) -> Principal | None:
        """The principal these CONNECT credentials belong to, or None (counted) to refuse them."""
        principal = await self._check(username, password, client_id)
        if principal is None:
            self.count("auth_refused")
        return principal

    async def _check(self, username: str | None, password: str | None, client_id: str | None) -> Principal | None:
        if not username or not password or not client_id:
            return None
        loop = asyncio.get_running_loop()
        try:
            principal = await loop.run_in_executor(
                self._executor, self._authenticator.authenticate, username, password, client_id
            )
        except Exception:
            logger.exception("authenticator failed for %r; refusing", username)
            return None
        if principal is None:
            return None
        if not isinstance(principal, Principal) or principal.username != username:
            logger.error("authenticator returned %r for username %r; refusing", principal, username)
            return None
        if principal.role == "fridge" and client_id != principal.fridge_id:
            # A fridge connects as itself: otherwise it could take over another fridge's session.
            logger.info("fridge %r connected with client id %r; refusing", username, client_id)
            return None
        return principal

    def will_allowed(self, session: Session) -> bool:
        """Whether the CONNECT's will (if any) is one its client may publish; counted when not.

        amqtt publishes a will without asking the topic plugins, so it is checked at CONNECT.
        """
        if not session.will_flag:
            return True
        principal = principal_of(session)
        if principal is None or session.will_topic is None or not may_publish(principal, session.will_topic):
            self.count("publish_denied")
            return False
        if session.will_message is not None and len(session.will_message) > self.max_payload:
            self.count("oversized")
            return False
        return True

    def allows(self, session: Session | None, topic: str | None, action: Action | None) -> bool:
        """Whether the session's principal may do `action` on `topic`; denials are counted."""
        principal = principal_of(session)
        if principal is None or topic is None:
            allowed = False
        elif action == Action.PUBLISH:
            allowed = may_publish(principal, topic)
        elif action == Action.SUBSCRIBE:
            allowed = may_subscribe(principal, topic)
        elif action == Action.RECEIVE:
            allowed = may_receive(principal, topic)
        else:
            allowed = False
        if not allowed:
            if action == Action.PUBLISH:
                self.count("publish_denied")
            elif action == Action.SUBSCRIBE:
                self.count("subscribe_denied")
            logger.info("denied %s of %r to %r", action, topic, principal.username if principal else None)
        return allowed


def principal_of(session: Session | None) -> Principal | None:
    """The principal an amqtt session authenticated as, if any."""
    if session is None:
        return None
    principal = session.attributes.get(PRINCIPAL_KEY)
    return principal if isinstance(principal, Principal) else None


class AuthPlugin(BaseAuthPlugin):  # type: ignore[misc]  # amqtt ships no type information
    """Authenticates a CONNECT through the `BrokerPolicy`; keeps the principal on the session."""

    @dataclass
    class Config:
        policy: BrokerPolicy

    def __init__(self, context: BaseContext) -> None:
        super().__init__(context)
        self._policy: BrokerPolicy = self.config.policy

    async def authenticate(self, *, session: Session) -> bool:
        principal = await self._policy.authenticate(session.username, session.password, session.client_id)
        if principal is None:
            session.attributes.pop(PRINCIPAL_KEY, None)
            return False
        session.attributes[PRINCIPAL_KEY] = principal
        return True


class TopicAclPlugin(BaseTopicPlugin):  # type: ignore[misc]
    """Answers amqtt's publish, subscribe and receive checks with the rules of `acl.py`."""

    @dataclass
    class Config:
        policy: BrokerPolicy

    def __init__(self, context: BaseContext) -> None:
        super().__init__(context)
        self._policy: BrokerPolicy = self.config.policy

    async def topic_filtering(
        self, *, session: Session | None = None, topic: str | None = None, action: Action | None = None
    ) -> bool:
        return self._policy.allows(session, topic, action)
