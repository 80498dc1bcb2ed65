"""The fulfilment rules (domain/fulfilment.py): every transition, pure, no server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from freshtap.server.domain.errors import Conflict
from freshtap.server.domain.fulfilment import (
    TRACKING_STATUSES,
    Fulfilment,
    FulfilmentStatus,
    TrackingStatus,
    combined_status,
    mark_out_of_stock,
    record_shipment,
    restock,
)
from freshtap.server.domain.orders import OrderStatus

T0 = datetime(2026, 11, 23, 12, tzinfo=UTC)
NONE = Fulfilment()
SHIPPED = Fulfilment("shipped", "in_transit", 1)
DELIVERED = Fulfilment("delivered", "delivered", 3)
RESTOCKED = Fulfilment("restocked", "delivered", 3)
OUT = Fulfilment("out_of_stock")


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ("label_created", Fulfilment("shipped", "label_created", 0)),
        ("in_transit", Fulfilment("shipped", "in_transit", 1)),
        ("out_for_delivery", Fulfilment("shipped", "out_for_delivery", 2)),
        ("delivered", Fulfilment("delivered", "delivered", 3)),
        ("exception", Fulfilment("shipped", "exception", -1)),
    ],
)
def test_a_first_event_ships_a_paid_order(event: TrackingStatus, expected: Fulfilment) -> None:
    assert record_shipment("paid", NONE, event) == expected


@pytest.mark.parametrize("payment", ["pending", "requires_action", "declined", "cancelled", "refunded"])
def test_only_a_paid_order_ships(payment: OrderStatus) -> None:
    with pytest.raises(Conflict, match="only a paid order"):
        record_shipment(payment, NONE, "in_transit")


def test_the_ladder_moves_forward_and_repeats_a_rung() -> None:
    step = record_shipment("paid", NONE, "label_created")
    step = record_shipment("paid", step, "in_transit")
    assert record_shipment("paid", step, "in_transit") == step  # another hub scan: nothing changes
    step = record_shipment("paid", step, "exception")
    assert step == Fulfilment("shipped", "exception", 1)
    step = record_shipment("paid", step, "out_for_delivery")
    assert step == Fulfilment("shipped", "out_for_delivery", 2)
    step = record_shipment("paid", step, "delivered")
    assert step == DELIVERED
    assert record_shipment("paid", step, "delivered") == DELIVERED


@pytest.mark.parametrize(
    ("current", "event"),
    [
        (SHIPPED, "label_created"),
        (Fulfilment("shipped", "out_for_delivery", 2), "in_transit"),
        (DELIVERED, "out_for_delivery"),
        (DELIVERED, "exception"),
        (RESTOCKED, "in_transit"),
        (RESTOCKED, "exception"),
        (OUT, "in_transit"),
        (OUT, "delivered"),
    ],
)
def test_out_of_order_or_too_late_is_a_conflict(current: Fulfilment, event: TrackingStatus) -> None:
    with pytest.raises(Conflict):
        record_shipment("paid", current, event)


def test_a_late_delivered_leaves_a_restocked_order_alone() -> None:
    assert record_shipment("paid", RESTOCKED, "delivered") == RESTOCKED


@given(st.lists(st.sampled_from(TRACKING_STATUSES), max_size=12))
def test_any_accepted_sequence_never_goes_back(events: list[TrackingStatus]) -> None:
    current = NONE
    for event in events:
        try:
            after = record_shipment("paid", current, event)
        except Conflict:
            continue
        assert after.rung >= current.rung
        if current.status == "delivered":
            assert after.status == "delivered"
        current = after


def test_restock_once_and_only_with_an_item_added_after_the_order() -> None:
    later, earlier = T0 + timedelta(hours=1), T0 - timedelta(days=1)
    assert restock("paid", SHIPPED, later, T0) == Fulfilment("restocked", "in_transit", 1)
    assert restock("paid", DELIVERED, later, T0) == RESTOCKED
    assert restock("paid", DELIVERED, earlier, T0) is None  # the item it replaces
    assert restock("paid", DELIVERED, T0, T0) is None
    assert restock("paid", RESTOCKED, later, T0) is None  # once
    assert restock("paid", NONE, later, T0) is None  # not shipped
    assert restock("paid", OUT, later, T0) is None
    assert restock("refunded", DELIVERED, later, T0) is None


def test_out_of_stock_before_shipping_only() -> None:
    assert mark_out_of_stock("paid", NONE) == OUT
    assert mark_out_of_stock("requires_action", NONE) == OUT
    assert mark_out_of_stock("refunded", OUT) is None  # said again: nothing more to do
    for current in (SHIPPED, DELIVERED, RESTOCKED):
        with pytest.raises(Conflict, match="already"):
            mark_out_of_stock("paid", current)
    with pytest.raises(Conflict, match="still being processed"):
        mark_out_of_stock("pending", NONE)
    for payment in ("declined", "cancelled", "refunded"):
        with pytest.raises(Conflict, match="nothing left"):
            mark_out_of_stock(payment, NONE)  # type: ignore[arg-type]


@pytest.mark.parametrize("payment", list(get_args(OrderStatus)))
@pytest.mark.parametrize("fulfilment", [None, *get_args(FulfilmentStatus)])
def test_the_combined_status(payment: OrderStatus, fulfilment: FulfilmentStatus | None) -> None:
    shown = combined_status(payment, fulfilment)
    if payment == "paid" and fulfilment in ("shipped", "delivered", "restocked"):
        assert shown == fulfilment
    else:
        assert shown == payment  # fulfilment refines `paid` only; out_of_stock never shows
