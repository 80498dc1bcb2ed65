"""One-tap purchase: a live proposal becomes an order, charged at most once.

The order row, keyed by `(household, Idempotency-Key)`, is committed *before* the payment
provider is called, and the provider is called with an idempotency key derived from the order id.
So the same key returns the same order; concurrent taps race on a unique constraint and all but
one read the winner's order; and a crash between the charge and the final commit is healed by
`reconcile_pending`, which asks the provider again with the same key and gets the same charge.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from freshtap.clock import Clock
from freshtap.server.domain.errors import Conflict, IdempotencyMismatch, InvalidRequest, NotFound
from freshtap.server.domain.orders import OrderStatus, next_status
from freshtap.server.metrics import Metrics
from freshtap.server.payments.provider import ChargeRequest, PaymentProvider
from freshtap.server.security.credentials import FridgeCaller
from freshtap.server.services.proposals import publish_offers
from freshtap.server.services.publisher import FridgePublisher
from freshtap.server.store.ids import new_id
from freshtap.server.store.models import Household, Order, Product, Proposal

__all__ = ["OrderService"]

log = logging.getLogger(__name__)


def _fingerprint(proposal_id: str, amount_minor: int, currency: str) -> str:
    return hashlib.sha256(f"{proposal_id}|{amount_minor}|{currency}".encode()).hexdigest()


class OrderService:
    def __init__(
        self,
        sessions: Callable[[], Session],
        clock: Clock,
        provider: PaymentProvider,
        publisher: FridgePublisher,
        metrics: Metrics,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._provider = provider
        self._publisher = publisher
        self._metrics = metrics

    def accept(self, caller: FridgeCaller, proposal_id: str, idempotency_key: str) -> Order:
        now = self._clock.now()
        with self._sessions() as session:
            proposal = session.get(Proposal, proposal_id)
            if proposal is None or proposal.household_id != caller.household_id:
                raise NotFound(f"no proposal {proposal_id}")
            fingerprint = _fingerprint(proposal.id, proposal.price_minor, proposal.currency)
            existing = self._by_key(session, caller.household_id, idempotency_key)
            if existing is not None:
                return self._replay(existing, fingerprint)
            household = session.get(Household, caller.household_id)
            if household is None or not household.payment_method:
                raise InvalidRequest("this household has no saved payment method")
            claimed = session.execute(
                update(Proposal)
                .where(col(Proposal.id) == proposal.id, col(Proposal.status) == "live")
                .values(status="accepted", closed_at=now)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                session.rollback()
                existing = self._by_key(session, caller.household_id, idempotency_key)
                if existing is not None:
                    return self._replay(existing, fingerprint)
                raise Conflict(f"proposal {proposal_id} is no longer live")
            order = Order(
                id=new_id("ord"),
                proposal_id=proposal.id,
                household_id=proposal.household_id,
                fridge_id=proposal.fridge_id,
                merchant_id=proposal.merchant_id,
                product_id=proposal.product_id,
                amount_minor=proposal.price_minor,
                currency=proposal.currency,
                idempotency_key=idempotency_key,
                request_fingerprint=fingerprint,
                status="pending",
                payment_state="pending",
                created_at=now,
                updated_at=now,
            )
            session.add(order)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                existing = self._by_key(session, caller.household_id, idempotency_key)
                if existing is None:
                    raise
                return self._replay(existing, fingerprint)
            payment_method = household.payment_method
        order = self._charge(order.id, payment_method)
        # The accepted proposal left the live list: the fridge's retained offers must follow.
        with self._sessions() as session:
            publish_offers(session, self._publisher, order.fridge_id, self._clock.now())
        self._metrics.orders.labels(status=order.status).inc()
        return order

    @staticmethod
    def _by_key(session: Session, household_id: str, key: str) -> Order | None:
        return session.exec(
            select(Order).where(Order.household_id == household_id, Order.idempotency_key == key)
        ).first()

    @staticmethod
    def _replay(order: Order, fingerprint: str) -> Order:
        if order.request_fingerprint != fingerprint:
            raise IdempotencyMismatch("this Idempotency-Key was used for a different purchase")
        return order

    def _charge(self, order_id: str, payment_method: str) -> Order:
        with self._sessions() as session:
            order = session.get(Order, order_id)
            assert order is not None
            product = session.get(Product, order.product_id)
            description = f"freshtap order {order.id}: {product.name if product else order.product_id}"
        result = self._provider.charge(
            ChargeRequest(
                idempotency_key=f"freshtap-order-{order_id}",
                payment_method=payment_method,
                amount_minor=order.amount_minor,
                currency=order.currency,
                description=description,
            )
        )
        with self._sessions() as session:
            order = session.get(Order, order_id, with_for_update=True)
            assert order is not None
            if order.status in ("pending", "requires_action"):
                status: OrderStatus = next_status(order.status, result.outcome)  # type: ignore[arg-type]
                order.status = status
                order.payment_state = result.outcome
                order.payment_reference = result.reference
                order.failure_reason = result.failure_reason
                order.updated_at = self._clock.now()
                session.add(order)
                session.commit()
            return order

    def reconcile_pending(self, older_than: datetime) -> int:
        """Finish orders left `pending` by a crash, asking the provider again with the same key."""
        with self._sessions() as session:
            stuck = session.exec(
                select(Order.id, Household.payment_method)
                .join(Household, col(Household.id) == col(Order.household_id))
                .where(Order.status == "pending", col(Order.created_at) <= older_than)
            ).all()
        for order_id, payment_method in stuck:
            self._charge(order_id, payment_method or "")
        return len(stuck)

    def get_for(self, order_id: str, household_id: str | None = None, merchant_id: str | None = None) -> Order:
        with self._sessions() as session:
            order = session.get(Order, order_id)
            if order is None or not (
                (household_id is not None and order.household_id == household_id)
                or (merchant_id is not None and order.merchant_id == merchant_id)
            ):
                raise NotFound(f"no order {order_id}")
            return order
