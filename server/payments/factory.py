"""Build the payment provider the settings name (`payments.provider`)."""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session

from freshtap.clock import Clock
from freshtap.server.payments.provider import PaymentProvider
from freshtap.server.payments.sandbox import SandboxProvider
from freshtap.settings import Settings

__all__ = ["RETURN_PATH", "build_provider"]

RETURN_PATH = "/pay/return"
"""Where Stripe sends the owner's phone back after authenticating (a page on this server)."""


def build_provider(settings: Settings, sessions: Callable[[], Session], clock: Clock) -> PaymentProvider:
    config = settings.payments
    if config.provider == "sandbox":
        return SandboxProvider(sessions, clock)
    from freshtap.server.payments.stripe_provider import StripeProvider

    assert config.stripe_api_key is not None  # the settings refuse stripe without a key
    return StripeProvider(
        config.stripe_api_key.get_secret_value(),
        return_url=settings.resolved_public_url.rstrip("/") + RETURN_PATH,
        api_base=config.stripe_api_base,
        capture=config.stripe_capture,
        timeout_seconds=config.stripe_timeout_seconds,
        max_network_retries=config.stripe_max_network_retries,
    )
