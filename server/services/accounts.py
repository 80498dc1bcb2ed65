"""Merchants, households and fridges: creating them and issuing their credentials."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sqlmodel import Session, select

from freshtap.clock import Clock
from freshtap.contract import validate_fridge_id
from freshtap.server.broker.mosquitto import mosquitto_password_hash
from freshtap.server.domain.errors import Conflict, InvalidRequest, NotFound
from freshtap.server.security.credentials import hash_secret, issue_secret
from freshtap.server.store.ids import new_id
from freshtap.server.store.models import Credential, Fridge, Household, Merchant

RESERVED_PREFIX = "freshtap"
"""Broker usernames of freshtap's own (the server's account) start with this; no fridge may."""

__all__ = ["MerchantCreated", "ProvisionedFridge", "create_merchant", "provision_fridge", "rotate_credentials"]


@dataclass(frozen=True)
class MerchantCreated:
    merchant_id: str
    api_key: str


@dataclass(frozen=True)
class ProvisionedFridge:
    fridge_id: str
    household_id: str
    username: str
    password: str


def create_merchant(sessions: Callable[[], Session], clock: Clock, name: str) -> MerchantCreated:
    now = clock.now()
    merchant = Merchant(id=new_id("m"), name=name, created_at=now)
    key_id, api_key = issue_secret()
    with sessions() as session:
        session.add(merchant)
        session.flush()
        session.add(
            Credential(
                key_id=key_id,
                kind="merchant",
                subject_id=merchant.id,
                secret_hash=hash_secret(api_key),
                created_at=now,
            )
        )
        session.commit()
    return MerchantCreated(merchant.id, api_key)


def provision_fridge(
    sessions: Callable[[], Session],
    clock: Clock,
    *,
    household_name: str | None = None,
    household_id: str | None = None,
    payment_method: str | None = None,
    fridge_id: str | None = None,
    offers_opted_in: bool = True,
) -> ProvisionedFridge:
    """A new fridge with its MQTT/HTTP credential, in a new household or an existing one.

    A new household is opted in to offers unless `offers_opted_in` is False (`--no-offers`); an
    existing household keeps its own choice.

    A fridge's MQTT username is its fridge id, so broker ACLs can match `%u` against topics.
    """
    now = clock.now()
    fridge_id = validate_fridge_id(fridge_id or f"f-{secrets.token_hex(6)}")
    if fridge_id.lower().startswith(RESERVED_PREFIX):
        raise InvalidRequest(f"fridge ids starting with {RESERVED_PREFIX!r} are reserved for freshtap's own accounts")
    key_id, password = issue_secret()
    with sessions() as session:
        if session.get(Fridge, fridge_id) is not None:
            raise Conflict(f"fridge {fridge_id} already exists")
        if household_id is not None:
            household = session.get(Household, household_id)
            if household is None:
                raise NotFound(f"no household {household_id}")
            if payment_method is not None:
                household.payment_method = payment_method
        else:
            household = Household(
                id=new_id("hh"),
                name=household_name or "household",
                payment_method=payment_method,
                created_at=now,
                offers_opted_in=offers_opted_in,
            )
            session.add(household)
        session.flush()
        session.add(Fridge(id=fridge_id, household_id=household.id, username=fridge_id, created_at=now))
        session.flush()
        session.add(
            Credential(
                key_id=key_id,
                kind="fridge",
                subject_id=fridge_id,
                secret_hash=hash_secret(password),
                mosquitto_hash=mosquitto_password_hash(password),
                created_at=now,
            )
        )
        session.commit()
        return ProvisionedFridge(fridge_id, household.id, fridge_id, password)


def rotate_credentials(sessions: Callable[[], Session], clock: Clock, kind: str, subject_id: str) -> str:
    """Revoke every live credential of a fridge or merchant and issue a new one; returns the secret."""
    now = clock.now()
    key_id, secret = issue_secret()
    with sessions() as session:
        live = session.exec(
            select(Credential).where(
                Credential.kind == kind,
                Credential.subject_id == subject_id,
                Credential.revoked_at.is_(None),  # type: ignore[union-attr]
            )
        ).all()
        if not live:
            raise NotFound(f"no {kind} {subject_id}")
        for credential in live:
            credential.revoked_at = now
            session.add(credential)
        session.add(
            Credential(
                key_id=key_id,
                kind=kind,
                subject_id=subject_id,
                secret_hash=hash_secret(secret),
                mosquitto_hash=mosquitto_password_hash(secret) if kind == "fridge" else None,
                created_at=now,
            )
        )
        session.commit()
    return secret
