"""One running server: database, broker (embedded unless `FRESHTAP_MQTT_URL` is set), MQTT ingest,
scheduler and HTTP, started and stopped together.
"""

from __future__ import annotations

import logging
import secrets
import threading
from datetime import timedelta

import uvicorn

from freshtap.clock import Clock
from freshtap.server.app import create_app
from freshtap.server.broker.dynsec import DynsecBans
from freshtap.server.broker.embedded import EmbeddedBroker
from freshtap.server.container import Services, build_services
from freshtap.server.ingest.confirmations import Confirmations
from freshtap.server.ingest.mqtt_link import BatchHandler, MqttEndpoint, MqttLink, parse_mqtt_url
from freshtap.server.ingest.rate_limit import IngestRateGuard
from freshtap.server.leadership import TickLease, expose_leadership, tick_lease_for
from freshtap.server.payments.provider import PaymentProvider
from freshtap.server.security.broker_auth import DatabaseBrokerAuthenticator
from freshtap.server.security.credentials import CredentialVerifier
from freshtap.server.services.retention import prune_expired
from freshtap.server.services.social_relay import RelayWorker
from freshtap.server.store.db import create_db_engine, migrate, session_factory
from freshtap.settings import Settings

__all__ = ["ServerRuntime"]

log = logging.getLogger(__name__)


class ServerRuntime:
    """Compose and run the server's parts; the constructor does no work."""

    def __init__(self, settings: Settings, clock: Clock, payments: PaymentProvider | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self._payments = payments
        self.broker: EmbeddedBroker | None = None
        self.link: MqttLink | None = None
        self.rate_guard: IngestRateGuard | None = None
        """Each fridge's publish quota at ingest, with an outside broker (see `BrokerLimitSettings`)."""
        self.bans: DynsecBans | None = None
        self.confirmations: Confirmations | None = None
        """Tells each fridge which of its messages are applied (server/ingest/confirmations.py)."""
        self._services: Services | None = None
        self._http: uvicorn.Server | None = None
        self._http_thread: threading.Thread | None = None
        self._scheduler: threading.Thread | None = None
        self._social_relay: RelayWorker | None = None
        self.lease: TickLease | None = None
        """Whether this worker runs the scheduled work (one worker of many on PostgreSQL)."""
        self._stopping = threading.Event()
        self.http_port: int | None = None
        self.mqtt_endpoint: MqttEndpoint | None = None

    @property
    def services(self) -> Services:
        if self._services is None:
            raise RuntimeError("the server is not started")
        return self._services

    @property
    def http_url(self) -> str:
        return f"http://{self.settings.http_host}:{self.http_port}"

    @property
    def mqtt_url(self) -> str:
        assert self.mqtt_endpoint is not None
        return f"mqtt://{self.mqtt_endpoint.host}:{self.mqtt_endpoint.port}"

    def start(self) -> None:
        settings = self.settings
        engine = create_db_engine(settings.resolved_database_url)
        migrate(engine)
        server_password = (
            settings.server_mqtt_password.get_secret_value()
            if settings.server_mqtt_password is not None
            else secrets.token_urlsafe(24)
        )
        if settings.mqtt_url is None:
            if settings.share_group is not None:
                raise RuntimeError(
                    "the embedded broker (amqtt) has no shared subscriptions; run several workers on Mosquitto or EMQX"
                )
            verifier = CredentialVerifier(session_factory(engine))
            self.broker = EmbeddedBroker(
                settings.embedded_mqtt_host,
                settings.embedded_mqtt_port,
                DatabaseBrokerAuthenticator(verifier, settings.server_mqtt_username, server_password),
                on_refusal=self._broker_refused,
                limits=settings.broker_limits,
            )
            self.broker.start()
            self.mqtt_endpoint = MqttEndpoint(settings.embedded_mqtt_host, self.broker.port)
        else:
            if settings.server_mqtt_password is None:
                raise RuntimeError("FRESHTAP_SERVER_MQTT_PASSWORD is needed to log in to an outside broker")
            self.mqtt_endpoint = parse_mqtt_url(settings.mqtt_url)
        client_id = settings.server_mqtt_username
        if settings.share_group:
            # Under its old id a restarted worker resumes its session, and the share queued in it.
            client_id = f"{settings.server_mqtt_username}-{settings.worker_id or secrets.token_hex(4)}"
        self.link = MqttLink(
            self.mqtt_endpoint,
            settings.server_mqtt_username,
            server_password,
            client_id,
            share_group=settings.share_group,
            on_connection_change=self._link_connection_changed,
            batch_size=settings.ingest.batch_size,
            batch_wait=settings.ingest.batch_wait_ms / 1000,
        )
        services = build_services(settings, self.clock, engine, self.link, self._payments)
        self._services = services
        self.confirmations = Confirmations(self.link, self.clock)
        services.ingest.confirmations = self.confirmations
        self.confirmations.start()
        self.link.set_batch_handler(self._ingest_handler(services, server_password))
        if self.broker is not None:
            services.metrics.add_broker_refusals(lambda: dict(self.broker.refusals) if self.broker else {})
        self.link.start()
        services.metrics.mqtt_connected.set_function(lambda: 1.0 if self.link and self.link.connected else 0.0)
        self._start_http(services)
        self.lease = tick_lease_for(engine)
        self.lease.acquire()  # so that /metrics says from the start which worker leads
        expose_leadership(self.lease, services.metrics.registry)
        self._scheduler = threading.Thread(target=self._schedule, name="freshtap-scheduler", daemon=True)
        self._scheduler.start()
        self._social_relay = RelayWorker(services.social_relay, settings.social_outbox.poll_interval_seconds)
        self._social_relay.start()

    def _ingest_handler(self, services: Services, server_password: str) -> BatchHandler:
        """The ingest service's batch handler, behind each fridge's publish quota when the broker cannot hold it."""
        limits = self.settings.broker_limits
        enabled = limits.ingest_rate_limit if limits.ingest_rate_limit is not None else self.broker is None
        if not enabled:
            return services.ingest.handle_batch
        if limits.mosquitto_dynsec and self.broker is None and self.mqtt_endpoint is not None:
            self.bans = DynsecBans(
                self.mqtt_endpoint.host, self.mqtt_endpoint.port, self.settings.server_mqtt_username, server_password
            )
            self.bans.start()
        self.rate_guard = IngestRateGuard(limits, services.sessions, self.clock, services.metrics, self.bans)
        self.rate_guard.grace()
        return self.rate_guard.wrap_batch(services.ingest.handle_batch)

    def _link_connection_changed(self, connected: bool) -> None:
        # What the broker queued while the link was away arrives at once: not a flood.
        if connected and self.rate_guard is not None:
            self.rate_guard.grace()

    def _broker_refused(self, reason: str, detail: str) -> None:
        if self._services is not None:
            self._services.ingest.broker_refused(reason, detail)

    def _start_http(self, services: Services) -> None:
        config = uvicorn.Config(
            create_app(services),
            host=self.settings.http_host,
            port=self.settings.http_port,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
        self._http = uvicorn.Server(config)
        self._http_thread = threading.Thread(target=self._http.run, name="freshtap-http", daemon=True)
        self._http_thread.start()
        for _ in range(200):
            if self._http.started or not self._http_thread.is_alive():
                break
            self._stopping.wait(0.05)
        if not self._http.started:
            raise RuntimeError(f"HTTP did not start on {self.settings.http_host}:{self.settings.http_port}")
        sockets = [s for server in self._http.servers for s in server.sockets]
        self.http_port = int(sockets[0].getsockname()[1])

    def _schedule(self) -> None:
        tick = self.settings.offers.scheduler_tick_seconds
        while not self._stopping.wait(max(0.05, self.clock.real_seconds(tick))):
            services = self._services
            if services is None or self.lease is None or not self.lease.acquire():
                continue
            try:
                services.ingest.refresh_due()
                services.orders.reconcile_pending(self.clock.now() - self._pending_grace())
                prune_expired(services.sessions, self.clock.now(), services.settings)
            except Exception:
                log.exception("scheduler tick failed")
            try:
                services.reviews.create_due_drafts()
                services.rewards.grant_due()
            except Exception:
                log.exception("review drafts and referral rewards failed this tick")

    def _pending_grace(self) -> timedelta:
        """How long an order may stay pending before recovery asks the provider: two simulated minutes,
        but never less than two real seconds, so that an accelerated clock (the demo runs a month in
        half a minute) does not take a tap still in flight for one that crashed."""
        real_per_simulated = self.clock.real_seconds(1.0)
        floor = 2.0 / real_per_simulated if real_per_simulated > 0 else 0.0
        return timedelta(seconds=max(120.0, floor))

    def stop(self) -> None:
        self._stopping.set()
        if self._http is not None:
            self._http.should_exit = True
        if self._http_thread is not None:
            self._http_thread.join(timeout=10)
        if self._scheduler is not None:
            self._scheduler.join(timeout=10)
        if self._social_relay is not None:
            self._social_relay.stop()
        if self.lease is not None:
            self.lease.release()
        if self.confirmations is not None:
            self.confirmations.stop()
        if self.link is not None:
            self.link.stop()
        if self.bans is not None:
            self.bans.stop()
        if self.broker is not None:
            self.broker.stop()
        if self._services is not None:
            self._services.engine.dispose()
