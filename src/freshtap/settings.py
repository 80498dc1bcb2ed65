"""The one settings object (pydantic-settings, `FRESHTAP_` prefix, nested sections with `__`).

Built once per process by the composition root (`freshtap.cli`) or a test, then injected; nothing
reads it at import time. Unset, every default runs on one machine: embedded broker, a SQLite file
under `data_dir`, sandbox payments.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "BrokerLimitSettings",
    "DouyinChannelSettings",
    "FreshnessSettings",
    "MastodonChannelSettings",
    "OfferSettings",
    "PaymentSettings",
    "PrivacySettings",
    "PurchaseLimitSettings",
    "ReferralSettings",
    "ReviewSettings",
    "Settings",
    "SocialChannelSettings",
    "SocialOutboxSettings",
    "WebhookChannelSettings",
    "WechatOAChannelSettings",
    "WeiboChannelSettings",
]

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
    cooldown_hours_after_dismissal: float = Field(default=72.0, ge=0)
    """After a dismissal, how long an offer that sets no cooldown of its own stays away (docs/offers.md)."""
    preview_max_matches: int = Field(default=200, ge=1, le=5000)
    """The most matches an offer preview lists (the `eligible` count covers all of them)."""


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
    update_method_url: str | None = Field(default=None, max_length=2048)
    """Where the owner changes the saved payment method (the operator's account page); a declined
    order's notice names it as the way forward (`next_action.url`), shown as a QR code."""
    pin_max_attempts: int = Field(default=5, ge=1, le=20)
    pin_lockout_seconds: float = Field(default=900.0, gt=0)

    @model_validator(mode="after")
    def _stripe_needs_its_secrets(self) -> PaymentSettings:
        if self.provider == "stripe" and (self.stripe_api_key is None or self.stripe_webhook_secret is None):
            raise ValueError("the stripe provider needs stripe_api_key and stripe_webhook_secret")
        return self


class MastodonChannelSettings(BaseModel):
    """A Mastodon account: `base_url` of its server and an access token with `write:statuses write:media`."""

    base_url: str | None = None
    access_token: SecretStr | None = None
    visibility: Literal["public", "unlisted", "private"] = "public"
    max_characters: int = Field(default=500, ge=50, le=100_000)
    """The server's status limit (500 unless its admin changed it: `configuration.statuses.max_characters`)."""


class WebhookChannelSettings(BaseModel):
    """A signed webhook: each post is POSTed as JSON, signed with HMAC-SHA256 of the timestamp and raw body."""

    url: str | None = None
    secret: SecretStr | None = None


class WeiboChannelSettings(BaseModel):
    api_base: str = "https://api.weibo.com"
    access_token: SecretStr | None = None
    client_ip: str = "127.0.0.1"
    """`rip`, the posting user's real IP, which statuses/share requires."""


class WechatOAChannelSettings(BaseModel):
    api_base: str = "https://api.weixin.qq.com"
    app_id: str | None = None
    app_secret: SecretStr | None = None
    author: str = "freshtap"


class DouyinChannelSettings(BaseModel):
    api_base: str = "https://open.douyin.com"
    client_key: str | None = None
    client_secret: SecretStr | None = None


class SocialChannelSettings(BaseModel):
    """Where approved posts may go. The local sink and the Xiaohongshu package need nothing; any other
    channel is on once its credentials are set (`FRESHTAP_SOCIAL_CHANNELS__MASTODON__ACCESS_TOKEN=...`)."""

    mastodon: MastodonChannelSettings = MastodonChannelSettings()
    webhook: WebhookChannelSettings = WebhookChannelSettings()
    weibo: WeiboChannelSettings = WeiboChannelSettings()
    wechat_oa: WechatOAChannelSettings = WechatOAChannelSettings()
    douyin: DouyinChannelSettings = DouyinChannelSettings()
    request_timeout_seconds: float = Field(default=10.0, gt=0, le=120)


class SocialOutboxSettings(BaseModel):
    """The social outbox relay: retries, dead-lettering and leases (seconds of the server's clock)."""

    max_attempts: int = Field(default=8, ge=1, le=100)
    """After this many failed attempts an entry is dead-lettered (and counted, logged, kept with its reason)."""
    backoff_base_seconds: float = Field(default=30.0, gt=0)
    backoff_cap_seconds: float = Field(default=3600.0, gt=0)
    lease_seconds: float = Field(default=300.0, gt=0)
    """How long a claimed entry stays with its relay; a relay that dies leaves it to another after this."""
    batch_size: int = Field(default=20, ge=1, le=500)
    poll_interval_seconds: float = Field(default=2.0, gt=0)
    """Wall-clock seconds between two relay passes."""
    owner_confirm_hours: float = Field(default=72.0, gt=0)
    """How long a share waiting for the owner's phone (Douyin) is polled before it is given up."""
    owner_poll_seconds: float = Field(default=60.0, gt=0)


class ReviewSettings(BaseModel):
    """Review drafts: when they are made, and the owner's jurisdiction for disclosure wording."""

    draft_after_delivered_days: float = Field(default=3.0, ge=0)
    """An order delivered but never seen restocked gets its draft this many days after delivery."""
    jurisdiction: Literal["CN", "US", "EU"] = "CN"
    video_max_bytes: int = Field(default=20 * 1024 * 1024, ge=64 * 1024)
    """The largest review video a fridge may upload (`PUT /api/v1/review-drafts/{id}/video`), bytes."""
    video_wait_minutes: float = Field(default=30.0, ge=0)
    """How long after approval a post to a channel that carries video (local feed, Douyin,
    Xiaohongshu) waits for the fridge's video before it goes out with the poster alone."""


class ReferralSettings(BaseModel):
    """Referral links and the reward for a referred order (the same for every review, whatever it says)."""

    attribution_days: float = Field(default=30.0, gt=0)
    """An order counts as referred when placed within this many days after the post was approved."""
    reward_kind: Literal["cashback_credit", "red_envelope"] = "cashback_credit"
    reward_minor: int = Field(default=500, ge=0)
    """0: no incentive at all (posts then carry no ad disclosure)."""
    reward_currency: str = Field(default="CNY", min_length=3, max_length=3)


class BrokerLimitSettings(BaseModel):
    """Per-client limits of the brokers: publish rate, connection rate, bans, queues, session expiry.

    The embedded broker enforces all of them; with Mosquitto the server enforces the publish rate
    at ingest and bans through Mosquitto's dynamic security plugin (docs/security.md, "Broker
    limits"). Environment: `FRESHTAP_BROKER_LIMITS__PUBLISH_RATE=20`, ...
    """

    publish_rate: float = Field(default=20.0, gt=0)
    """Messages per second a fridge may publish, on average (a token bucket; the server is exempt)."""
    publish_burst: int = Field(default=10, ge=1)
    """How many messages a fridge may publish at once above its rate (the bucket's size). Small on
    purpose: a burst shares the server's ingest with every other fridge."""
    flood_ban_after_seconds: float = Field(default=30.0, ge=0)
    """A fridge over its quota for this long without a break is banned; 0: held back, never banned."""
    connect_window_seconds: float = Field(default=60.0, gt=0)
    connects_per_window: int = Field(default=20, ge=1)
    """CONNECTs one username may make per window; one more and it is banned (a reconnect loop)."""
    connects_per_ip_per_window: int = Field(default=600, ge=1)
    """CONNECTs one IP address may make per window (several fridges may share an address)."""
    connect_rate_exempt: list[str] = Field(default_factory=lambda: ["127.0.0.0/8", "::1/128"])
    """Networks whose addresses are not limited per IP (the fridges' usernames still are)."""
    ban_seconds: float = Field(default=600.0, gt=0)
    max_queued_messages: int = Field(default=1000, ge=1)
    """QoS 1 messages kept per offline fridge session; older ones stay, newer ones are dropped (counted)."""
    max_inflight_messages: int = Field(default=20, ge=1, le=65535)
    """QoS 1 messages sent to a client and not yet acknowledged (Mosquitto's max_inflight_messages)."""
    session_expiry_seconds: float = Field(default=7 * 24 * 3600.0, gt=0)
    """A persistent session whose client stayed away this long is deleted with its queue."""
    ingest_rate_limit: bool | None = None
    """Limit each fridge's rate at ingest as well; unset: on with an outside broker, off with the embedded one."""
    ingest_backlog_seconds: float = Field(default=60.0, gt=0)
    """At ingest, an over-quota message observed (`at`) longer ago than this is a fridge replaying its offline queue."""
    backlog_factor: float = Field(default=10.0, ge=1)
    """How much faster than `publish_rate` a fridge may replay its offline queue at ingest."""
    ingest_grace_seconds: float = Field(default=60.0, ge=0)
    """After the server's MQTT link (re)connects, the broker's backlog arrives at once: not limited for this long."""
    mosquitto_dynsec: bool = False
    """Ban on Mosquitto by disabling the fridge's login through the dynamic security plugin
    (`freshtap admin mosquitto-config --dynsec` loads it)."""


class PurchaseLimitSettings(BaseModel):
    """Abuse limit on one-tap purchases: at most `max_per_window` per household in any `window_seconds`.

    Counted in the database (table `purchase_attempt`), so it holds across server workers; each
    distinct `Idempotency-Key` counts once, and replaying a key already used is never refused.
    Environment: `FRESHTAP_PURCHASES__MAX_PER_WINDOW=30`, `FRESHTAP_PURCHASES__WINDOW_SECONDS=3600`.
    """

    max_per_window: int = Field(default=30, ge=1, le=1_000_000)
    window_seconds: float = Field(default=3600.0, gt=0)


class PrivacySettings(BaseModel):
    """How long data is kept (days of the server's clock); the scheduler deletes what is older.

    Environment: `FRESHTAP_PRIVACY__TELEMETRY_RETENTION_DAYS=30`, ...
    """

    telemetry_retention_days: float = Field(default=30.0, gt=0)
    """Compartment temperatures (`telemetryreading`)."""
    rejection_retention_days: float = Field(default=14.0, gt=0)
    """Refused MQTT messages kept for inspection (`rejection`): they hold raw payloads."""
    retained_order_days: float = Field(default=3650.0, gt=0)
    """Anonymised orders of deleted households (`retained_order`), kept for tax and accounting law;
    set it to what your jurisdiction requires."""


class IngestSettings(BaseModel):
    """How the server's MQTT link batches ingest (server/ingest/mqtt_link.py).

    Environment: `FRESHTAP_INGEST__BATCH_SIZE=500`, `FRESHTAP_INGEST__BATCH_WAIT_MS=0`.
    """

    batch_size: int = Field(default=500, ge=1, le=10_000)
    """At most this many messages are applied in one transaction (and acknowledged after it)."""
    batch_wait_ms: float = Field(default=0.0, ge=0, le=1000)
    """How long a batch may wait for more once the queue is empty; 0: take what is queued."""


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
    """Bearer token of the admin HTTP API (`/api/v1/admin/...`); unset, with no `admin_token_sha256`
    either, that API is off (404)."""
    admin_token_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    """Alternatively the SHA-256 (hex) of the admin token, so the token itself need not be configured."""
    clock_speed: float = Field(default=1.0, gt=0)

    console_secret: SecretStr = Field(default_factory=lambda: SecretStr(secrets.token_urlsafe(32)))
    """Signs the merchant console's session cookies and CSRF tokens. Unset, a random secret per
    process: sessions end when the server restarts, and several workers must share one set value."""
    console_session_hours: float = Field(default=8.0, gt=0, le=24 * 30)
    """How long a console sign-in lasts, in wall-clock hours (scaled by `clock_speed` for the server's clock)."""

    freshness: FreshnessSettings = FreshnessSettings()
    offers: OfferSettings = OfferSettings()
    payments: PaymentSettings = PaymentSettings()
    broker_limits: BrokerLimitSettings = BrokerLimitSettings()
    ingest: IngestSettings = IngestSettings()
    social_channels: SocialChannelSettings = SocialChannelSettings()
    social_outbox: SocialOutboxSettings = SocialOutboxSettings()
    reviews: ReviewSettings = ReviewSettings()
    referrals: ReferralSettings = ReferralSettings()
    purchases: PurchaseLimitSettings = PurchaseLimitSettings()
    privacy: PrivacySettings = PrivacySettings()

    @model_validator(mode="after")
    def _no_placeholder_secrets_in_production(self) -> Settings:
        if self.environment == "production":
            for name in ("admin_token", "server_mqtt_password", "console_secret"):
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
