"""The screen's snapshot: whose freshness is shown, the shelf map's order, offers with their taps."""

from __future__ import annotations

from datetime import date, timedelta

from freshtap.contract import Basis, FreshnessInfo, FreshnessState, Money
from freshtap.device.screen import ServerInventory, ServerItem, Tap, TapStatus, Telemetry, build_snapshot
from freshtap.device.screen.view import item_freshness
from freshtap.settings import FreshnessSettings
from tests.screen.fakes import START, item, offer

THRESHOLDS = FreshnessSettings()
MILK = item("milk", "Whole milk 1 L", label_expiry=date(2026, 11, 24))
SERVER_SAYS = FreshnessInfo(state=FreshnessState.USE_SOON, expires_at=START + timedelta(hours=60), basis=Basis.LABEL,
                            explanation="the server's reasons")


def test_the_servers_freshness_wins_when_it_saw_the_same_facts() -> None:
    shown = item_freshness(MILK, ServerItem("milk", None, date(2026, 11, 24), SERVER_SAYS), START, THRESHOLDS)
    assert (shown.source, shown.state, shown.explanation) == ("server", "use_soon", "the server's reasons")


def test_the_fridges_own_freshness_when_offline_or_when_the_server_is_behind() -> None:
    own = item_freshness(MILK, None, START, THRESHOLDS)
    assert own.source == "device" and own.state == "expiring" and own.basis == "label"
    assert own.explanation and "24 Nov" in own.explanation
    opened = MILK.model_copy(update={"opened_at": START - timedelta(hours=1)})
    behind = item_freshness(opened, ServerItem("milk", None, date(2026, 11, 24), SERVER_SAYS), START, THRESHOLDS)
    assert behind.source == "device"


def test_no_known_deadline_is_unknown_never_fresh() -> None:
    mystery = item("jar", "Mystery jar", category="unknowable")
    assert item_freshness(mystery, None, START, THRESHOLDS).state == "unknown"


def test_snapshot_groups_items_by_compartment_most_urgent_first_and_ties_taps_to_offers() -> None:
    items = [
        MILK,
        item("ham", "Ham", category="deli meat", label_expiry=date(2026, 11, 20)),
        item("peas", "Peas", category="frozen vegetables", compartment="freezer"),
        item("x", "Thing", compartment="garage"),
    ]
    pending = Tap("t-1", "p-1", "Whole milk 1 L", "Corner Dairy", Money(amount_minor=1290, currency="CNY"), START,
                  "key-1", status=TapStatus.PENDING, commit_at=12.5)
    failed = Tap("t-2", "p-gone", "Ham", "Corner Dairy", Money(amount_minor=500, currency="CNY"), START, "key-2",
                 status=TapStatus.FAILED, failure="not_available")
    snap = build_snapshot(
        fridge_id="f-1", now=START, connection="online", items=items,
        server=ServerInventory({"milk": ServerItem("milk", None, date(2026, 11, 24), SERVER_SAYS)}, 3, START),
        server_status="ok", offers=[offer("p-1", "milk")], taps=[pending, failed], loop_now=10.0,
        telemetry=Telemetry({"fridge": 3.8, "cellar": 12.0}, False, START), thresholds=THRESHOLDS, can_buy=True,
        undo_seconds=5,
    )
    order = [c["id"] for c in snap["compartments"]]
    assert order == ["fridge", "door", "crisper", "freezer", "cellar", "garage"]
    fridge = snap["compartments"][0]
    assert [i["item_id"] for i in fridge["items"]] == ["ham", "milk"]  # expired before use-soon
    assert fridge["temp_c"] == 3.8
    (card,) = snap["offers"]
    assert card["item_name"] == "Whole milk 1 L" and card["item_state"] == "use_soon"
    assert card["tap"]["status"] == "pending" and card["tap"]["undo_ms"] == 2500
    assert [o["tap_id"] for o in snap["orders"]] == ["t-2"]  # the pending tap is on its card
    assert snap["telemetry"]["door_open"] is False
