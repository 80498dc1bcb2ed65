"""Prometheus metrics of one server process, in their own registry (so tests can run many apps)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

__all__ = ["Metrics"]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.ingested = Counter(
            "freshtap_ingest_messages_total",
            "Fridge messages handled, by type and outcome (applied, duplicate, stale).",
            ["type", "outcome"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "freshtap_ingest_rejected_total",
            "Fridge messages rejected, by reason; each is kept in the rejection table.",
            ["reason"],
            registry=self.registry,
        )
        self.offers_published = Counter(
            "freshtap_offers_published_total", "Offers lists published to fridges.", registry=self.registry
        )
        self.orders = Counter(
            "freshtap_orders_total", "Orders created, by resulting status.", ["status"], registry=self.registry
        )
        self.mqtt_connected = Gauge(
            "freshtap_mqtt_connected", "1 while the server's MQTT link is connected.", registry=self.registry
        )
        self.social_posts = Counter(
            "freshtap_social_posts_total",
            "Social outbox outcomes, by channel and outcome (sent, duplicate, retry, awaiting_owner, dead).",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self.social_dead_letters = Counter(
            "freshtap_social_dead_letters_total",
            "Social posts given up (dead-lettered) by the outbox relay; alert on any increase.",
            ["channel"],
            registry=self.registry,
        )

    def add_broker_refusals(self, read: Callable[[], dict[str, int]]) -> None:
        """Expose the embedded broker's refusal counters (auth, ACL, size) as a gauge family."""
        gauge = Gauge(
            "freshtap_broker_refusals",
            "What the embedded broker refused since it started, by kind.",
            ["kind"],
            registry=self.registry,
        )

        def reader(kind: str) -> Callable[[], float]:
            return lambda: float(read().get(kind, 0))

        for kind in (
            "auth_refused",
            "publish_denied",
            "subscribe_denied",
            "oversized",
            "rate_limited",
            "flood_banned",
            "connect_rate",
            "banned",
            "session_expired",
            "queue_dropped",
        ):
            gauge.labels(kind=kind).set_function(reader(kind))

    def render(self) -> bytes:
        return generate_latest(self.registry)
