"""Moving an order's payment along: charge, apply what the provider says, capture, void, refund,
and recover whatever a crash left half-done.

Every provider call carries a key derived from the order id, and every step that must not be
repeated is claimed in the database before the provider is called:

- the order row itself (written by `OrderService.accept`) before the charge;
- `cancel_requested_at` before a void or refund, `capture_started_at` before a capture — each set by
  a conditional update that only one of the two can win, so a cancel at the window's last second
  and the capture job cannot both act.

A crash after the provider acted but before the database recorded it leaves the claim in place;
`reconcile` repeats the call with the same key (the provider returns the first result) and records
it. Provider events (webhooks) are applied together with a row keyed by the event id, in one
transaction, so an event delivered twice changes the order once.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from freshtap.clock import Clock
from freshtap.contract import Channel, NoticeBody, NoticeMessage, encode
from freshtap.server.domain.errors import Conflict
from freshtap.server.domain.orders import PaymentState, advance, is_final, status_of
from freshtap.server.payments.provider import (
    ChargeRequest,
    ChargeResult,
    PaymentProvider,
    ProviderRejected,
    ProviderUnavailable,
)
from freshtap.server.services.notices import declined_fields
from freshtap.server.services.publisher import FridgePublisher
from freshtap.server.store.models import Household, Order
from freshtap.server.store.payments_models import OrderPayment, WebhookEvent
from freshtap.settings import PaymentSettings

__all__ = ["OrderView", "Settlement", "aware", "order_key"]

log = logging.getLogger(__name__)

RECHARGE_HORIZON = timedelta(hours=23)
"""Stripe forgets an idempotency key after 24 h; an order still pending after this is not charged
again automatically (it could be charged twice) but logged for an operator."""


def aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def order_key(kind: str, order_id: str) -> str:
    """The provider idempotency key of one step of one order (`charge` is the tap's own key)."""
    return f"freshtap-order-{order_id}" if kind == "charge" else f"freshtap-{kind}-{order_id}"


@dataclass(frozen=True)
class OrderView:
    """An order with its payment record (None only for orders older than the payments schema)."""

    order: Order
    payment: OrderPayment | None


class Settlement:
    def __init__(
        self,
        sessions: Callable[[], Session],
        clock: Clock,
        provider: PaymentProvider,
        publisher: FridgePublisher,
        config: PaymentSettings,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._provider = provider
        self._publisher = publisher
        self._config = config

    # -- reading -------------------------------------------------------------------------------

    def view(self, order_id: str) -> OrderView:
        with self._sessions() as session:
            order = session.get(Order, order_id)
            assert order is not None
            return OrderView(order, session.get(OrderPayment, order_id))

    def order_for_reference(self, reference: str) -> str | None:
        with self._sessions() as session:
            return session.exec(select(Order.id).where(Order.payment_reference == reference)).first()

    # -- the steps -----------------------------------------------------------------------------

    def charge(self, order_id: str) -> OrderView:
        """Charge a pending order (again, after a crash: the same key returns the same charge)."""
        with self._sessions() as session:
            order = session.get(Order, order_id)
            assert order is not None
            payment = session.get(OrderPayment, order_id)
            if payment is not None:
                method, customer = payment.payment_method, payment.customer
            else:  # an order from before the payments schema
                household = session.get(Household, order.household_id)
                method, customer = (household.payment_method if household else None) or "", None
        request = ChargeRequest(
            idempotency_key=order_key("charge", order_id),
            payment_method=method,
            amount_minor=order.amount_minor,
            currency=order.currency,
            description=f"freshtap order {order_id}",
            order_id=order_id,
            customer=customer,
        )
        try:
            result = self._provider.charge(request)
        except ProviderUnavailable as exc:
            log.warning("order %s: the payment provider is unavailable (%s); recovery will retry", order_id, exc)
            return self.view(order_id)
        except ProviderRejected as exc:
            result = ChargeResult("declined", order.payment_reference or "", failure_reason=_reason("rejected", exc))
        return self.apply(order_id, result)

    def apply(self, order_id: str, result: ChargeResult, event: WebhookEvent | None = None) -> OrderView:
        """Record what the provider says; with `event`, at most once per event id.

        Raises `IntegrityError` when `event` was already recorded (the caller reports a duplicate).
        """
        now = self._clock.now()
        with self._sessions() as session:
            order = session.get(Order, order_id, with_for_update=True)
            assert order is not None
            payment = session.get(OrderPayment, order_id, with_for_update=True)
            current: PaymentState = order.payment_state  # type: ignore[assignment]
            try:
                after = advance(current, result.outcome) if result.outcome != "pending" else None
            except Conflict as exc:
                log.warning("order %s: ignoring a stale provider result: %s", order_id, exc)
                after, outcome = None, "ignored"
            else:
                outcome = "applied" if after is not None else "unchanged"
            if after is not None:
                order.payment_state = after
                order.status = status_of(after)
                if after in ("declined", "voided") and result.failure_reason:
                    order.failure_reason = result.failure_reason[:200]
            if result.reference and not order.payment_reference and outcome != "ignored":
                order.payment_reference = result.reference
            state: PaymentState = order.payment_state  # type: ignore[assignment]
            if payment is not None:
                if state == "requires_action":
                    if result.next_action_url and result.outcome == "requires_action":
                        payment.next_action_url = result.next_action_url[:2048]
                else:
                    payment.next_action_url = None
                if (state == "succeeded" or is_final(state)) and payment.settled_at is None:
                    payment.settled_at = now
                session.add(payment)
            if after is not None:
                order.updated_at = now
            session.add(order)
            if event is not None:
                event.order_id = order_id
                event.outcome = outcome
                session.add(event)
            session.commit()
            view = OrderView(order, payment)
        if after is not None:
            self._notify(view)
        return view

    def claim_cancel(self, order_id: str) -> bool:
        """Mark the order as being cancelled, unless its capture has begun; True when claimed or already claimed."""
        with self._sessions() as session:
            session.execute(
                update(OrderPayment)
                .execution_options(synchronize_session=False)
                .where(
                    col(OrderPayment.order_id) == order_id,
                    col(OrderPayment.capture_started_at).is_(None),
                    col(OrderPayment.cancel_requested_at).is_(None),
                )
                .values(cancel_requested_at=self._clock.now())
            )
            session.commit()
            payment = session.get(OrderPayment, order_id)
            return payment is not None and payment.cancel_requested_at is not None

    def finish_cancel(self, order_id: str, action: str) -> OrderView:
        """Void or refund a claimed cancel; a provider that cannot be reached leaves it for recovery."""
        view = self.view(order_id)
        order = view.order
        reference = order.payment_reference
        if not reference:
            raise Conflict("the payment has no provider reference yet; try again in a moment")
        try:
            if action == "void":
                result = self._provider.void(reference, order_key("void", order_id))
            else:
                result = self._provider.refund(reference, order.amount_minor, order_key("refund", order_id))
        except ProviderUnavailable as exc:
            log.warning("order %s: cancel could not reach the provider (%s); recovery will retry", order_id, exc)
            return view
        except ProviderRejected as exc:
            # The payment moved meanwhile (e.g. the owner authenticated on the phone as the door
            # screen cancelled): record where it stands and let the household decide again.
            self._release_cancel(order_id)
            with contextlib.suppress(ProviderUnavailable, ProviderRejected):
                self.apply(order_id, self._provider.retrieve(reference))
            raise Conflict(f"the payment changed while cancelling ({exc}); look at the order again") from None
        return self.apply(order_id, result)

    def capture(self, order_id: str) -> OrderView | None:
        """Capture a held authorisation whose window has closed; None when a cancel won the race."""
        with self._sessions() as session:
            claimed = session.execute(
                update(OrderPayment)
                .execution_options(synchronize_session=False)
                .where(col(OrderPayment.order_id) == order_id, col(OrderPayment.cancel_requested_at).is_(None))
                .values(capture_started_at=self._clock.now())
            )
            session.commit()
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return None
            order = session.get(Order, order_id)
            assert order is not None
            reference = order.payment_reference
        if not reference:
            return None
        try:
            result = self._provider.capture(reference, order_key("capture", order_id))
        except ProviderUnavailable as exc:
            log.warning("order %s: capture could not reach the provider (%s); will retry", order_id, exc)
            return None
        except ProviderRejected as exc:
            log.warning("order %s: capture refused (%s); reading its state", order_id, exc)
            result = self._provider.retrieve(reference)
        return self.apply(order_id, result)

    def _release_cancel(self, order_id: str) -> None:
        with self._sessions() as session:
            session.execute(
                update(OrderPayment)
                .execution_options(synchronize_session=False)
                .where(col(OrderPayment.order_id) == order_id)
                .values(cancel_requested_at=None)
            )
            session.commit()

    # -- recovery ------------------------------------------------------------------------------

    def reconcile(self, older_than: datetime) -> int:
        """Finish what crashes, lost webhooks and closed windows left; returns how many orders it touched.

        - pending orders older than `older_than`: charge again with the same key;
        - cancels claimed but not recorded: void or refund again with the same key;
        - held authorisations whose window closed: capture;
        - orders waiting for authentication older than `older_than`: ask the provider where they
          stand (a webhook may have been lost), and abandon (void) those older than the action timeout.
        """
        now = self._clock.now()
        touched = 0
        with self._sessions() as session:
            rows = session.exec(
                select(Order, OrderPayment)
                .join(OrderPayment, col(OrderPayment.order_id) == col(Order.id), isouter=True)
                .where(col(Order.status).in_(("pending", "requires_action", "paid")))
                .where(
                    (col(Order.status) != "paid")
                    | (col(Order.payment_state) == "authorized")
                    | col(OrderPayment.cancel_requested_at).is_not(None)
                )
            ).all()
        for order, payment in rows:
            if payment is not None and payment.provider != self._provider.name:
                continue  # charged by a provider this process is not configured for
            try:
                touched += self._reconcile_one(order, payment, older_than, now)
            except (ProviderUnavailable, ProviderRejected) as exc:
                log.warning("order %s: recovery deferred (%s)", order.id, exc)
        return touched

    def _provider_age(self, since: datetime, now: datetime) -> timedelta:
        """How long ago `since` was by the provider's clock, the wall clock: its idempotency keys expire
        in real time, also while this server runs on an accelerated clock (the demo, the simulator)."""
        simulated = now - since
        real = self._clock.real_seconds(simulated.total_seconds())
        return timedelta(seconds=real) if real > 0 else simulated

    def _reconcile_one(self, order: Order, payment: OrderPayment | None, older_than: datetime, now: datetime) -> int:
        created = aware(order.created_at)
        state = order.payment_state
        if payment is not None and payment.cancel_requested_at is not None and not is_final(state):  # type: ignore[arg-type]
            if state == "pending":
                return 0
            self.finish_cancel(order.id, "void" if state in ("requires_action", "authorized") else "refund")
            return 1
        if state == "pending":
            if created > older_than:
                return 0
            if self._provider_age(created, now) > RECHARGE_HORIZON:
                log.warning(
                    "order %s has been pending since %s: needs an operator, not charged again", order.id, created
                )
                return 0
            self.charge(order.id)
            return 1
        if state == "authorized" and payment is not None and now >= aware(payment.cancellable_until):
            self.capture(order.id)
            return 1
        if state == "requires_action" and created <= older_than and order.payment_reference:
            view = self.apply(order.id, self._provider.retrieve(order.payment_reference))
            timed_out = now - created > timedelta(hours=self._config.action_timeout_hours)
            if view.order.payment_state == "requires_action" and timed_out and self.claim_cancel(order.id):
                result = self._provider.void(order.payment_reference, order_key("void", order.id))
                if result.outcome == "voided":
                    result = ChargeResult("voided", result.reference, failure_reason="authentication_timeout")
                self.apply(order.id, result)
            return 1
        return 0

    # -- provider events -----------------------------------------------------------------------

    def record_event(self, provider: str, event_id: str, event_type: str, outcome: str) -> bool:
        """Record an event that changes no order; False when it was already recorded."""
        with self._sessions() as session:
            session.add(
                WebhookEvent(
                    provider=provider,
                    event_id=event_id,
                    type=event_type,
                    outcome=outcome,
                    received_at=self._clock.now(),
                )
            )
            try:
                session.commit()
            except IntegrityError:
                return False
        return True

    def seen(self, provider: str, event_id: str) -> bool:
        with self._sessions() as session:
            return session.get(WebhookEvent, (provider, event_id)) is not None

    def apply_event(self, provider: str, event_id: str, event_type: str, order_id: str, result: ChargeResult) -> bool:
        """Apply an event's result to its order, once; False when the event was already applied."""
        event = WebhookEvent(
            provider=provider, event_id=event_id, type=event_type, outcome="", received_at=self._clock.now()
        )
        try:
            self.apply(order_id, result, event=event)
        except IntegrityError:
            return False
        return True

    # -- the door screen -----------------------------------------------------------------------

    def _notify(self, view: OrderView) -> None:
        """Tell the fridge the order moved (its screen shows the QR code, the undo button, the result)."""
        order, payment = view.order, view.payment
        fields: dict[str, object] = {
            "kind": "order_status",
            "order_id": order.id,
            "status": order.status,
            "payment_state": order.payment_state,
        }
        if payment is not None and payment.next_action_url:
            fields["next_action_url"] = payment.next_action_url
        if payment is not None and order.status in ("paid", "requires_action"):
            fields["cancellable_until"] = aware(payment.cancellable_until).isoformat().replace("+00:00", "Z")
        if order.failure_reason and order.status in ("declined", "cancelled"):
            fields["failure_reason"] = order.failure_reason
        if order.status == "declined":  # the way forward: services/notices.py
            fields.update(declined_fields(None, order.failure_reason, self._config.update_method_url))
        message = NoticeMessage(
            v=1,
            type="notice",
            fridge_id=order.fridge_id,
            at=self._clock.now().replace(microsecond=0),
            body=NoticeBody.model_validate(fields),
        )
        try:
            self._publisher.publish(order.fridge_id, Channel.NOTICES, encode(message), retain=False)
        except Exception as exc:  # the notice is a courtesy; the order is already recorded
            log.warning("order %s: could not notify fridge %s: %s", order.id, order.fridge_id, exc)


def _reason(prefix: str, exc: Exception) -> str:
    return f"{prefix}: {exc}"[:200]
