"""The one settings object (pydantic-settings, `FRESHTAP_` prefix, nested sections with `__`).

Built once per process by the composition root (`freshtap.cli`) or a test, then injected; nothing
reads it at import time. Unset, every default runs on one machine: embedded broker, a SQLite file
under `data_dir`, sandbox payments.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["FreshnessSettings", "OfferSettings", "PaymentSettings", "Settings"]

_PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "secret", "dev", "development"}


class FreshnessSettings(BaseModel):
    """Thresholds, in hours before an item's deadline, that name its freshness state."""

    use_soon_hours: float = Field(default=96.0, gt=0)
    expiring_hours: float = Field(default=48.0, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> FreshnessSettings:
        if self.expiring_hours > self.use_soon_hours:
            raise ValueError("expiring_hours must not exceed use_soon_hours")
        return self


class OfferSettings(BaseModel):
    proposal_ttl_hours: float = Field(default=24.0, gt=0)
    scheduler_tick_seconds: float = Field(default=60.0, gt=0)


class PaymentSettings(BaseModel):
    """One-tap payment: which provider charges, the cancellation window, and the PIN's attempt limit.

    Environment: `FRESHTAP_PAYMENTS__PROVIDER=stripe`, `FRESHTAP_PAYMENTS__STRIPE_API_KEY=sk_...`, ...
    """

    provider: Literal["sandbox", "stripe"] = "sandbox"
    stripe_api_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    """The signing secret (`whsec_...`) of the webhook endpoint `/api/v1/webhooks/stripe`."""
    stripe_api_base: str | None = None
    """Unset, Stripe's own API; tests point it at a local fake."""
    stripe_capture: Literal["manual", "automatic"] = "manual"
    """`manual`: authorise at the tap, capture when the cancellation window closes (a cancel is a void)."""
    stripe_timeout_seconds: float = Field(default=20.0, gt=0)
    stripe_max_network_retries: int = Field(default=2, ge=0, le=10)
    webhook_tolerance_seconds: int = Field(default=300, gt=0)
    """A signed webhook older than this (or this far in the future) is refused as a possible replay."""
    cancel_window_seconds: float = Field(default=600.0, ge=0)
    """How long after the tap the household may still cancel (void before capture, refund after)."""
    action_timeout_hours: float = Field(default=24.0, gt=0)
    """An order still waiting for the owner to authenticate after this long is abandoned (voided)."""
    pin_max_attempts: int = Field(default=5, ge=1, le=20)
    pin_lockout_seconds: float = Field(default=900.0, gt=0)

    @model_validator(mode="after")
    def _stripe_needs_its_secrets(self) -> PaymentSettings:
        if self.provider == "stripe" and (self.stripe_api_key is None or self.stripe_webhook_secret is None):
            raise ValueError("the stripe provider needs stripe_api_key and stripe_webhook_secret")
        return self


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FRESHTAP_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    environment: Literal["development", "production"] = "development"
    data_dir: Path = Path(".freshtap")

    database_url: str | None = None
    """SQLAlchemy URL; unset, a SQLite file `freshtap.db` in `data_dir`."""

    mqtt_url: str | None = None
    """`mqtt://host:port` of an outside broker; unset, the server runs the embedded one."""
    embedded_mqtt_host: str = "127.0.0.1"
    embedded_mqtt_port: int = Field(default=1883, ge=0, le=65535)
    server_mqtt_username: str = "freshtap-server"
    server_mqtt_password: SecretStr | None = None
    """The server's own broker password; generated per run for the embedded broker when unset."""
    share_group: str | None = None
    """Subscribe with `$share/<group>/...` so several workers split ingest (not on amqtt)."""
    worker_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,40}$")
    """This worker's stable name in its share group: its MQTT client id is `<server_mqtt_username>-<worker_id>`,
    so a worker that restarts resumes its broker session and the share queued there. Unset, a random
    id per start, and a worker that dies leaves its queued share in a session nobody resumes."""

    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=0, le=65535)
    public_url: str | None = None
    """Base URL fridges and browsers reach the server at; defaults to http://http_host:http_port."""

    admin_token: SecretStr | None = None
    clock_speed: float = Field(default=1.0, gt=0)

    freshness: FreshnessSettings = FreshnessSettings()
    offers: OfferSettings = OfferSettings()
    payments: PaymentSettings = PaymentSettings()

    @model_validator(mode="after")
    def _no_placeholder_secrets_in_production(self) -> Settings:
        if self.environment == "production":
            for name in ("admin_token", "server_mqtt_password"):
                value = getattr(self, name)
                if value is not None and value.get_secret_value().strip().lower() in _PLACEHOLDER_SECRETS:
                    raise ValueError(f"{name} is a placeholder; set a real secret in production")
            for name in ("stripe_api_key", "stripe_webhook_secret"):
                value = getattr(self.payments, name)
                if value is not None and value.get_secret_value().strip().lower() in _PLACEHOLDER_SECRETS:
                    raise ValueError(f"payments.{name} is a placeholder; set a real secret in production")
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'freshtap.db').as_posix()}"

    @property
    def resolved_public_url(self) -> str:
        return self.public_url or f"http://{self.http_host}:{self.http_port}"
