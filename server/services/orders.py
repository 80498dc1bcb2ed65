"""One-tap purchase: a live proposal becomes an order, charged at most once, cancellable for a while.

The order row, keyed by `(household, Idempotency-Key)`, is committed together with its payment
record *before* the payment provider is called, and the provider is called with an idempotency key
derived from the order id. So the same key returns the same order; concurrent taps race on a unique
constraint and all but one read the winner's order; and a crash between the charge and the final
commit is healed by `reconcile_pending`, which asks the provider again with the same key and gets
the same charge (see `settlement.py` for capture, void, refund and webhooks).

The request fingerprint covers the proposal and the amount the door screen showed
(`expected_amount`, the proposal's price when the screen sends none): the same key with another
amount is refused (422) before anything is charged, and so is a tap whose screen showed a price
that is not the proposal's.

A tap above the household's spending limit needs its PIN (`services/spending.py`); the check runs
after the proposal is claimed, under the household's row lock, so parallel taps cannot together
slip past a weekly limit.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from freshtap.clock import Clock
from freshtap.server.domain.errors import Conflict, IdempotencyMismatch, InvalidRequest, NotFound
from freshtap.server.domain.orders import PaymentState, cancel_action
from freshtap.server.metrics import Metrics
from freshtap.server.payments.customers import customer_for
from freshtap.server.payments.provider import ChargeResult, PaymentProvider, ProviderUnavailable
from freshtap.server.payments.stripe_webhooks import StripeEvent
from freshtap.server.security.credentials import FridgeCaller
from freshtap.server.services.proposals import publish_offers
from freshtap.server.services.publisher import FridgePublisher
from freshtap.server.services.settlement import OrderView, Settlement, aware
from freshtap.server.services.spending import SpendingLimits
from freshtap.server.store.ids import new_id
from freshtap.server.store.models import Household, Order, Proposal
from freshtap.server.store.payments_models import OrderPayment
from freshtap.settings import PaymentSettings

__all__ = ["OrderService", "OrderView"]

log = logging.getLogger(__name__)

_HANDLED_STRIPE_EVENTS = frozenset(
    {
        "payment_intent.succeeded",
        "payment_intent.amount_capturable_updated",
        "payment_intent.payment_failed",
        "payment_intent.requires_action",
        "payment_intent.canceled",
        "charge.refunded",
    }
)


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
        config: PaymentSettings | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._provider = provider
        self._publisher = publisher
        self._metrics = metrics
        self._config = config or PaymentSettings()
        self.limits = SpendingLimits(sessions, clock, self._config)
        self.settlement = Settlement(sessions, clock, provider, publisher, self._config)

    @property
    def provider(self) -> PaymentProvider:
        return self._provider

    def accept(
        self,
        caller: FridgeCaller,
        proposal_id: str,
        idempotency_key: str,
        expected_amount: tuple[int, str] | None = None,
        pin: str | None = None,
    ) -> OrderView:
        """Buy a proposal with one tap (or with the PIN above the limit); the same key, the same order."""
        now = self._clock.now()
        with self._sessions() as session:
            proposal = session.get(Proposal, proposal_id)
            if proposal is None or proposal.household_id != caller.household_id:
                raise NotFound(f"no proposal {proposal_id}")
            amount, currency = expected_amount or (proposal.price_minor, proposal.currency)
            fingerprint = _fingerprint(proposal.id, amount, currency)
            existing = self._by_key(session, caller.household_id, idempotency_key)
            if existing is not None:
                return self._replay(session, existing, fingerprint)
            if (amount, currency) != (proposal.price_minor, proposal.currency):
                raise InvalidRequest(
                    f"the price is {proposal.price_minor} {proposal.currency}, not the {amount} {currency} shown; "
                    "nothing was charged"
                )
        pin_verified = False
        if pin is not None:
            self.limits.verify_pin(caller.household_id, pin)
            pin_verified = True
        with self._sessions() as session:
            household = session.get(Household, caller.household_id)
            if household is None or not household.payment_method:
                raise InvalidRequest("this household has no saved payment method")
            customer = customer_for(session, household.id, self._provider.name)
            if self._provider.name == "stripe" and customer is None:
                raise InvalidRequest("this household has no Stripe customer to charge")
            claimed = session.execute(
                update(Proposal)
                .where(col(Proposal.id) == proposal.id, col(Proposal.status) == "live")
                .values(status="accepted", closed_at=now)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                session.rollback()
                existing = self._by_key(session, caller.household_id, idempotency_key)
                if existing is not None:
                    return self._replay(session, existing, fingerprint)
                raise Conflict(f"proposal {proposal_id} is no longer live")
            # Serialise this household's taps (PostgreSQL; SQLite's write lock already does).
            session.exec(select(Household.id).where(Household.id == household.id).with_for_update()).one()
            exceeded = self.limits.check(session, household.id, proposal.price_minor, proposal.currency, now)
            if exceeded and not pin_verified:
                refusal = self.limits.refusal(session, household.id, exceeded)
                session.rollback()
                raise refusal
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
            payment = OrderPayment(
                order_id=order.id,
                provider=self._provider.name,
                payment_method=household.payment_method,
                customer=customer,
                authorized_by="pin" if exceeded else "one_tap",
                cancellable_until=now + timedelta(seconds=self._config.cancel_window_seconds),
            )
            try:
                session.add(order)
                session.flush()
                session.add(payment)
                session.commit()
            except IntegrityError:
                session.rollback()
                existing = self._by_key(session, caller.household_id, idempotency_key)
                if existing is None:
                    raise
                return self._replay(session, existing, fingerprint)
        view = self.settlement.charge(order.id)
        # The accepted proposal left the live list: the fridge's retained offers must follow.
        with self._sessions() as session:
            publish_offers(session, self._publisher, view.order.fridge_id, self._clock.now())
        self._metrics.orders.labels(status=view.order.status).inc()
        return view

    @staticmethod
    def _by_key(session: Session, household_id: str, key: str) -> Order | None:
        return session.exec(
            select(Order).where(Order.household_id == household_id, Order.idempotency_key == key)
        ).first()

    @staticmethod
    def _replay(session: Session, order: Order, fingerprint: str) -> OrderView:
        if order.request_fingerprint != fingerprint:
            raise IdempotencyMismatch("this Idempotency-Key was used for a different purchase or amount")
        return OrderView(order, session.get(OrderPayment, order.id))

    def cancel(self, caller: FridgeCaller, order_id: str) -> OrderView:
        """Undo a purchase within its window: a void while nothing was taken, a refund after.

        Cancelling an order that is already cancelled or refunded returns it unchanged.
        """
        now = self._clock.now()
        view = self.view_for(order_id, household_id=caller.household_id)
        if view.payment is None:
            raise Conflict("this order was placed before cancellation existed")
        state: PaymentState = view.order.payment_state  # type: ignore[assignment]
        action = cancel_action(state, now, aware(view.payment.cancellable_until))
        if action is None:
            return view
        if not self.settlement.claim_cancel(order_id):
            raise Conflict("the cancellation window closed: the payment is being captured")
        return self.settlement.finish_cancel(order_id, action)

    def view_for(self, order_id: str, household_id: str | None = None, merchant_id: str | None = None) -> OrderView:
        order = self.get_for(order_id, household_id=household_id, merchant_id=merchant_id)
        with self._sessions() as session:
            return OrderView(order, session.get(OrderPayment, order.id))

    def get_for(self, order_id: str, household_id: str | None = None, merchant_id: str | None = None) -> Order:
        with self._sessions() as session:
            order = session.get(Order, order_id)
            if order is None or not (
                (household_id is not None and order.household_id == household_id)
                or (merchant_id is not None and order.merchant_id == merchant_id)
            ):
                raise NotFound(f"no order {order_id}")
            return order

    def reconcile_pending(self, older_than: datetime) -> int:
        """The recovery job (the scheduler runs it every tick): see `Settlement.reconcile`."""
        return self.settlement.reconcile(older_than)

    def settle_reference(self, reference: str, result: ChargeResult) -> OrderView | None:
        """Apply a result the provider reported out of band (the sandbox's confirmation page)."""
        order_id = self.settlement.order_for_reference(reference)
        if order_id is None:
            return None
        return self.settlement.apply(order_id, result)

    def handle_stripe_event(self, event: StripeEvent) -> str:
        """Apply a verified Stripe event once: `applied`, `duplicate`, `ignored` or `unknown_order`.

        The event only says that a PaymentIntent changed; its current state is read from Stripe, so
        events arriving late or out of order cannot move an order backwards. Raises
        `ProviderUnavailable` when Stripe cannot be read (the route answers 503; Stripe redelivers).
        """
        if self.settlement.seen("stripe", event.id):
            return "duplicate"
        order_id = self._order_for_event(event)
        if event.type not in _HANDLED_STRIPE_EVENTS or order_id is None or event.payment_intent is None:
            outcome = "ignored" if order_id is not None or event.type not in _HANDLED_STRIPE_EVENTS else "unknown_order"
            return outcome if self.settlement.record_event("stripe", event.id, event.type, outcome) else "duplicate"
        if event.type == "charge.refunded":
            if not event.refunded:  # a partial refund: freshtap only ever refunds whole orders
                recorded = self.settlement.record_event("stripe", event.id, event.type, "ignored")
                return "ignored" if recorded else "duplicate"
            result = ChargeResult("refunded", event.payment_intent)
        else:
            if self._provider.name != "stripe":
                raise ProviderUnavailable("Stripe events arrived, but this server is not configured for Stripe")
            result = self._provider.retrieve(event.payment_intent)
        return (
            "applied" if self.settlement.apply_event("stripe", event.id, event.type, order_id, result) else "duplicate"
        )

    def _order_for_event(self, event: StripeEvent) -> str | None:
        """The order an event is about: the PaymentIntent's metadata, checked against the order's reference."""
        with self._sessions() as session:
            if event.order_id is not None:
                order = session.get(Order, event.order_id)
                payment = session.get(OrderPayment, event.order_id)
                if (
                    order is not None
                    and payment is not None
                    and payment.provider == "stripe"
                    and order.payment_reference in (None, event.payment_intent)
                ):
                    return order.id
                return None
            if event.payment_intent is None:
                return None
            return session.exec(select(Order.id).where(Order.payment_reference == event.payment_intent)).first()
