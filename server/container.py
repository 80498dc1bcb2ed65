"""The services of one server process, built once by the app factory and shared by routes and workers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session

from freshtap.clock import Clock
from freshtap.server.ingest.service import IngestService
from freshtap.server.metrics import Metrics
from freshtap.server.payments.factory import build_provider
from freshtap.server.payments.provider import PaymentProvider
from freshtap.server.security.credentials import CredentialVerifier
from freshtap.server.services.catalog import CatalogService
from freshtap.server.services.offers import OfferService
from freshtap.server.services.orders import OrderService
from freshtap.server.services.publisher import FridgePublisher
from freshtap.server.services.referrals import ReferralService
from freshtap.server.services.review_media import ReviewMediaService
from freshtap.server.services.reviews import ReviewService
from freshtap.server.services.rewards import RewardService
from freshtap.server.services.social_relay import SocialRelay, build_social_relay
from freshtap.server.social.media import DatabaseMediaStore
from freshtap.server.store.db import session_factory
from freshtap.settings import Settings

__all__ = ["Services", "build_services"]


@dataclass
class Services:
    settings: Settings
    clock: Clock
    engine: Engine
    sessions: Callable[[], Session]
    metrics: Metrics
    verifier: CredentialVerifier
    publisher: FridgePublisher
    payments: PaymentProvider
    catalog: CatalogService
    orders: OrderService
    ingest: IngestService
    offers: OfferService
    reviews: ReviewService
    referrals: ReferralService
    rewards: RewardService
    social_relay: SocialRelay
    review_media: ReviewMediaService


def build_services(
    settings: Settings,
    clock: Clock,
    engine: Engine,
    publisher: FridgePublisher,
    payments: PaymentProvider | None = None,
) -> Services:
    sessions = session_factory(engine)
    metrics = Metrics()
    provider = payments or build_provider(settings, sessions, clock)
    orders = OrderService(sessions, clock, provider, publisher, metrics, settings.payments)
    return Services(
        settings=settings,
        clock=clock,
        engine=engine,
        sessions=sessions,
        metrics=metrics,
        verifier=CredentialVerifier(sessions),
        publisher=publisher,
        payments=provider,
        catalog=CatalogService(sessions, clock),
        orders=orders,
        ingest=IngestService(sessions, clock, settings, publisher, metrics),
        offers=OfferService(sessions, clock, settings, publisher),
        reviews=ReviewService(sessions, clock, settings, publisher),
        referrals=ReferralService(sessions, clock, settings, orders),
        rewards=RewardService(sessions, clock, settings.referrals, publisher),
        social_relay=build_social_relay(settings, sessions, clock, metrics, media=DatabaseMediaStore(sessions)),
        review_media=ReviewMediaService(sessions, clock, settings),
    )
