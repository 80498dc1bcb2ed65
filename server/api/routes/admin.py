"""The admin API: what `freshtap admin` does on the database, over HTTP, for an operator.

Every call needs the admin token (`Authorization: Bearer <admin token>`); with no admin token
configured the whole API answers 404. Secrets issued here are in the response only, once; the
log says what was done to whom, never a secret or the admin token.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Path

from freshtap.server.api.deps import AdminOnly, ServicesDep
from freshtap.server.api.schemas import ID_PATTERN
from freshtap.server.api.security_schemas import (
    CredentialIssued,
    CredentialsRevoked,
    FridgeProvision,
    FridgeProvisioned,
    MerchantCreate,
    MerchantCreatedPublic,
)
from freshtap.server.payments.customers import validate_token
from freshtap.server.services import accounts
from freshtap.server.services.revocation import revoke_credentials

router = APIRouter(prefix="/api/v1/admin", tags=["admin"], dependencies=[AdminOnly])

log = logging.getLogger(__name__)

FridgeId = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_-]{1,64}$")]
MerchantId = Annotated[str, Path(max_length=40, pattern=ID_PATTERN)]


@router.post("/merchants", status_code=201)
def create_merchant(data: MerchantCreate, services: ServicesDep) -> MerchantCreatedPublic:
    """`freshtap admin create-merchant NAME`: a merchant and its API key (shown once)."""
    made = accounts.create_merchant(services.sessions, services.clock, data.name)
    log.info("admin: created merchant %s", made.merchant_id)
    return MerchantCreatedPublic(merchant_id=made.merchant_id, api_key=made.api_key)


@router.post("/fridges", status_code=201)
def provision_fridge(data: FridgeProvision, services: ServicesDep) -> FridgeProvisioned:
    """`freshtap admin provision-fridge`: a fridge (in a new or existing household) and its password (shown once)."""
    if data.payment_method is not None:
        validate_token(data.payment_method)
    made = accounts.provision_fridge(
        services.sessions,
        services.clock,
        household_name=data.household,
        household_id=data.household_id,
        payment_method=data.payment_method,
        fridge_id=data.fridge_id,
    )
    log.info("admin: provisioned fridge %s in household %s", made.fridge_id, made.household_id)
    settings = services.settings
    # As `freshtap admin provision-fridge` says it: the outside broker, or the embedded one's address.
    mqtt_url = settings.mqtt_url or f"mqtt://{settings.embedded_mqtt_host}:{settings.embedded_mqtt_port}"
    return FridgeProvisioned(
        fridge_id=made.fridge_id,
        household_id=made.household_id,
        username=made.username,
        password=made.password,
        mqtt_url=mqtt_url,
    )


@router.post("/fridges/{fridge_id}/rotate")
def rotate_fridge(fridge_id: FridgeId, services: ServicesDep) -> CredentialIssued:
    """`freshtap admin rotate fridge ID`: revoke the fridge's password and issue a new one."""
    secret = accounts.rotate_credentials(services.sessions, services.clock, "fridge", fridge_id)
    log.info("admin: rotated the credentials of fridge %s", fridge_id)
    return CredentialIssued(subject_id=fridge_id, secret=secret)


@router.post("/merchants/{merchant_id}/rotate")
def rotate_merchant(merchant_id: MerchantId, services: ServicesDep) -> CredentialIssued:
    """`freshtap admin rotate merchant ID`: revoke the merchant's API key and issue a new one."""
    secret = accounts.rotate_credentials(services.sessions, services.clock, "merchant", merchant_id)
    log.info("admin: rotated the credentials of merchant %s", merchant_id)
    return CredentialIssued(subject_id=merchant_id, secret=secret)


@router.post("/fridges/{fridge_id}/revoke")
def revoke_fridge(fridge_id: FridgeId, services: ServicesDep) -> CredentialsRevoked:
    """Revoke the fridge's password and issue none: it can no longer connect or call the API."""
    revoked = revoke_credentials(services.sessions, services.clock, "fridge", fridge_id)
    log.info("admin: revoked %d credential(s) of fridge %s", revoked, fridge_id)
    return CredentialsRevoked(subject_id=fridge_id, revoked=revoked)


@router.post("/merchants/{merchant_id}/revoke")
def revoke_merchant(merchant_id: MerchantId, services: ServicesDep) -> CredentialsRevoked:
    """Revoke the merchant's API keys and issue none."""
    revoked = revoke_credentials(services.sessions, services.clock, "merchant", merchant_id)
    log.info("admin: revoked %d credential(s) of merchant %s", revoked, merchant_id)
    return CredentialsRevoked(subject_id=merchant_id, revoked=revoked)
