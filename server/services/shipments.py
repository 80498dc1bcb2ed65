"""Logistics writes: shipment events from the selling merchant, and the merchant's out-of-stock.

A shipment event is recorded once per order and `dedupe_key` (`id:<event_id>` when the merchant
sends an `event_id`, else a hash of carrier, tracking number, status and `at`), so a retried POST
returns the first record; the same `event_id` saying something else is refused (422). Each event
is checked against the fulfilment rules (domain/fulfilment.py) under the order's row lock, so two
events of one order never interleave; an event that moves the order (a new tracking status, or
shipped -> delivered) sends the buying fridge an `order_status` notice after commit.

Out of stock gives the money back through the payment path the household's cancel uses
(`Settlement.finish_cancel`: a void before capture, a refund after, with the order's own provider
idempotency keys, so it can never charge or refund twice, and recovery finishes it after a crash).
The order's proposal becomes `unfulfilled` — no longer a purchase, so the item is watched again —
and the planner runs for the fridge at once: if it proposes another product for the item, the
notice names that proposal as the way forward (`choose_other_offer`); if it would propose the same
out-of-stock product again, that proposal is withdrawn and the item stays on the watch list.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from freshtap.clock import Clock
from freshtap.server.domain.errors import Conflict, IdempotencyMismatch
from freshtap.server.domain.fulfilment import (
    Fulfilment,
    TrackingStatus,
    combined_status,
    mark_out_of_stock,
    record_shipment,
)
from freshtap.server.domain.orders import OrderStatus
from freshtap.server.services.notices import out_of_stock_fields, send_order_notice, shipment_fields
from freshtap.server.services.orders import OrderService, OrderView
from freshtap.server.services.proposals import publish_offers, refresh_fridge
from freshtap.server.services.publisher import FridgePublisher
from freshtap.server.store.ids import new_id
from freshtap.server.store.models import Merchant, Order, Product, Proposal
from freshtap.server.store.payments_models import OrderPayment
from freshtap.server.store.shipment_models import OrderFulfilment, ShipmentEvent
from freshtap.settings import Settings

__all__ = ["ShipmentInput", "ShipmentService", "fulfilment_of"]


@dataclass(frozen=True)
class ShipmentInput:
    carrier: str
    tracking_number: str
    status: TrackingStatus
    event_id: str | None = None
    at: datetime | None = None


def fulfilment_of(row: OrderFulfilment | None) -> Fulfilment:
    if row is None:
        return Fulfilment()
    return Fulfilment(status=row.status, tracking=row.tracking_status, rung=row.rung)  # type: ignore[arg-type]


def _digest(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


class ShipmentService:
    def __init__(
        self,
        sessions: Callable[[], Session],
        clock: Clock,
        orders: OrderService,
        publisher: FridgePublisher,
        settings: Settings,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._orders = orders
        self._publisher = publisher
        self._settings = settings

    # -- reading -------------------------------------------------------------------------------

    def events(self, order_id: str) -> list[ShipmentEvent]:
        """The order's shipment events in the carrier's order (`at`), then as received (the caller checked access)."""
        with self._sessions() as session:
            return list(
                session.exec(
                    select(ShipmentEvent)
                    .where(ShipmentEvent.order_id == order_id)
                    .order_by(col(ShipmentEvent.at), col(ShipmentEvent.received_at), col(ShipmentEvent.id))
                ).all()
            )

    def fulfilment(self, order_id: str) -> OrderFulfilment | None:
        with self._sessions() as session:
            return session.get(OrderFulfilment, order_id)

    # -- shipment events -----------------------------------------------------------------------

    def record(self, merchant_id: str, order_id: str, shipment: ShipmentInput) -> tuple[ShipmentEvent, bool]:
        """Record one shipment event; returns it and whether it is new (False: a replay)."""
        self._orders.get_for(order_id, merchant_id=merchant_id)
        now = self._clock.now()
        at = shipment.at or now
        fingerprint = _digest(shipment.carrier, shipment.tracking_number, shipment.status, at.isoformat())
        if shipment.event_id is not None:
            dedupe = f"id:{shipment.event_id}"
        elif shipment.at is not None:
            dedupe = "auto:" + fingerprint[:64]
        else:  # no id and no time: the same status of the same parcel, said twice, is one event
            dedupe = "auto:" + _digest(shipment.carrier, shipment.tracking_number, shipment.status)[:64]
        with self._sessions() as session:
            order = session.get(Order, order_id, with_for_update=True)
            assert order is not None
            existing = self._by_dedupe(session, order_id, dedupe)
            if existing is not None:
                return self._replay(existing, fingerprint, shipment.event_id)
            row = session.get(OrderFulfilment, order_id, with_for_update=True)
            before = fulfilment_of(row)
            payment_status: OrderStatus = order.status  # type: ignore[assignment]
            after = record_shipment(payment_status, before, shipment.status)
            changed = after != before
            if row is None:
                product = session.get(Product, order.product_id)
                row = OrderFulfilment(
                    order_id=order.id,
                    fridge_id=order.fridge_id,
                    gtin=product.gtin if product is not None else None,
                    ordered_at=order.created_at,
                    status=after.status or "shipped",
                    updated_at=now,
                )
            if row.shipped_at is None:
                row.shipped_at = at
            if after.status == "delivered" and row.delivered_at is None:
                row.delivered_at = at
            row.status = after.status or row.status
            row.tracking_status = after.tracking
            row.rung = after.rung
            row.carrier = shipment.carrier
            row.tracking_number = shipment.tracking_number
            row.updated_at = now
            event = ShipmentEvent(
                id=new_id("shp"),
                order_id=order.id,
                merchant_id=merchant_id,
                event_id=shipment.event_id,
                dedupe_key=dedupe,
                fingerprint=fingerprint,
                carrier=shipment.carrier,
                tracking_number=shipment.tracking_number,
                status=shipment.status,
                at=at,
                received_at=now,
                changed=changed,
            )
            session.add(row)
            session.add(event)
            try:
                session.commit()
            except IntegrityError:  # the same event, posted twice at once, lost the race
                session.rollback()
                existing = self._by_dedupe(session, order_id, dedupe)
                if existing is None:
                    raise
                return self._replay(existing, fingerprint, shipment.event_id)
            session.refresh(event)
            if changed:
                product_name, merchant_name = self._names(session, order)
                status = combined_status(payment_status, row.status)  # type: ignore[arg-type]
                fields = shipment_fields(
                    product_name, merchant_name, shipment.carrier, shipment.tracking_number, shipment.status
                )
                send_order_notice(self._publisher, order.fridge_id, order.id, status, now, fields)
        return event, True

    @staticmethod
    def _by_dedupe(session: Session, order_id: str, dedupe: str) -> ShipmentEvent | None:
        return session.exec(
            select(ShipmentEvent).where(ShipmentEvent.order_id == order_id, ShipmentEvent.dedupe_key == dedupe)
        ).first()

    @staticmethod
    def _replay(existing: ShipmentEvent, fingerprint: str, event_id: str | None) -> tuple[ShipmentEvent, bool]:
        if event_id is not None and existing.fingerprint != fingerprint:
            raise IdempotencyMismatch(f"event_id {event_id} was already used for a different shipment event")
        return existing, False

    @staticmethod
    def _names(session: Session, order: Order) -> tuple[str, str]:
        product = session.get(Product, order.product_id)
        merchant = session.get(Merchant, order.merchant_id)
        return (product.name if product else "your order", merchant.name if merchant else "the merchant")

    # -- out of stock --------------------------------------------------------------------------

    def out_of_stock(self, merchant_id: str, order_id: str) -> OrderView:
        """The merchant cannot supply: give the money back, tell the household the way forward.

        Saying it again returns the order as it stands (the refund is not repeated).
        """
        self._orders.get_for(order_id, merchant_id=merchant_id)
        now = self._clock.now()
        with self._sessions() as session:
            order = session.get(Order, order_id, with_for_update=True)
            assert order is not None
            payment = session.get(OrderPayment, order_id)
            row = session.get(OrderFulfilment, order_id, with_for_update=True)
            payment_status: OrderStatus = order.status  # type: ignore[assignment]
            after = mark_out_of_stock(payment_status, fulfilment_of(row))
            if after is None:
                return OrderView(order, payment)
            if payment is None:
                raise Conflict("this order was placed before refunds existed; refund it by hand")
            state = order.payment_state
            action = "refund" if state == "succeeded" else "void"
            claim = (
                update(OrderPayment)
                .execution_options(synchronize_session=False)
                .where(col(OrderPayment.order_id) == order_id, col(OrderPayment.cancel_requested_at).is_(None))
            )
            if state != "succeeded":  # a held authorisation being captured can no longer be voided
                claim = claim.where(col(OrderPayment.capture_started_at).is_(None))
            claimed = session.execute(claim.values(cancel_requested_at=now))
            if claimed.rowcount != 1 and payment.cancel_requested_at is None:  # type: ignore[attr-defined]
                session.rollback()
                raise Conflict("the payment is being captured right now; try again in a moment")
            product = session.get(Product, order.product_id)
            if row is None:
                row = OrderFulfilment(
                    order_id=order.id,
                    fridge_id=order.fridge_id,
                    gtin=product.gtin if product is not None else None,
                    ordered_at=order.created_at,
                    status="out_of_stock",
                    updated_at=now,
                )
            row.status = "out_of_stock"
            row.out_of_stock_at = now
            row.updated_at = now
            session.add(row)
            proposal = session.get(Proposal, order.proposal_id)
            if proposal is not None and proposal.status == "accepted":
                # No longer a purchase: the item is watched again (services/proposals.py `_bought`).
                proposal.status = "unfulfilled"
                session.add(proposal)
            session.commit()
        view = self._orders.settlement.finish_cancel(order_id, action)
        alternative = self._way_forward(order_id, now)
        with self._sessions() as session:
            order = view.order
            names = self._names(session, order)
            status = combined_status(order.status, "out_of_stock")  # type: ignore[arg-type]
            fields = out_of_stock_fields(names[0], names[1], order.status, alternative)
        send_order_notice(self._publisher, order.fridge_id, order.id, status, now, fields)
        return view

    def _way_forward(self, order_id: str, now: datetime) -> tuple[str, str, int, str] | None:
        """Run the planner for the order's fridge; another product's live proposal for the item, if any."""
        with self._sessions() as session:
            order = session.get(Order, order_id)
            proposal = session.get(Proposal, order.proposal_id) if order is not None else None
            if order is None or proposal is None:
                return None
            changed = refresh_fridge(session, order.fridge_id, now, self._settings)
            live = session.exec(
                select(Proposal).where(
                    Proposal.fridge_id == order.fridge_id,
                    Proposal.item_id == proposal.item_id,
                    Proposal.status == "live",
                )
            ).first()
            found: tuple[str, str, int, str] | None = None
            if live is not None and live.product_id == order.product_id:
                live.status = "expired"  # the product that just ran out is not a way forward
                live.closed_at = now
                session.add(live)
                changed = True
            elif live is not None:
                merchant = session.get(Merchant, live.merchant_id)
                found = (live.id, merchant.name if merchant else live.merchant_id, live.price_minor, live.currency)
            row = session.get(OrderFulfilment, order_id)
            if row is not None:
                row.alternative_proposal_id = found[0] if found else None
                session.add(row)
            session.commit()
            if changed:
                publish_offers(session, self._publisher, order.fridge_id, now)
        return found
