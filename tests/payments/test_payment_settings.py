"""The `payments` settings section: environment names, secrets, and what is refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from freshtap.server.payments.factory import build_provider
from freshtap.server.payments.sandbox import SandboxProvider
from freshtap.server.payments.stripe_provider import StripeProvider
from freshtap.settings import Settings


def test_defaults_are_the_sandbox_with_a_ten_minute_window(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.payments.provider == "sandbox" and settings.payments.cancel_window_seconds == 600
    assert isinstance(build_provider(settings, lambda: None, None), SandboxProvider)  # type: ignore[arg-type]


def test_stripe_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRESHTAP_PAYMENTS__PROVIDER", "stripe")
    monkeypatch.setenv("FRESHTAP_PAYMENTS__STRIPE_API_KEY", "sk_test_abc")
    monkeypatch.setenv("FRESHTAP_PAYMENTS__STRIPE_WEBHOOK_SECRET", "whsec_abc")
    monkeypatch.setenv("FRESHTAP_PAYMENTS__STRIPE_API_BASE", "http://127.0.0.1:12111")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.payments.stripe_api_key is not None
    assert "sk_test_abc" not in repr(settings)  # secrets stay out of logs
    provider = build_provider(settings, lambda: None, None)  # type: ignore[arg-type]
    assert isinstance(provider, StripeProvider) and provider.capture_mode == "manual"


def test_stripe_without_its_secrets_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRESHTAP_PAYMENTS__PROVIDER", "stripe")
    with pytest.raises(ValidationError, match="stripe_api_key and stripe_webhook_secret"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_placeholder_payment_secrets_are_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRESHTAP_ENVIRONMENT", "production")
    monkeypatch.setenv("FRESHTAP_PAYMENTS__STRIPE_WEBHOOK_SECRET", "changeme")
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(_env_file=None)  # type: ignore[call-arg]
