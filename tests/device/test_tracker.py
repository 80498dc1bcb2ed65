"""The inventory tracker: load cells and labels per slot become added/removed/opened/moved items and fills."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from itertools import count

from hypothesis import given, settings
from hypothesis import strategies as st

from freshtap.device.tracker import (
    Label,
    Observation,
    SlotItem,
    SlotKey,
    reconcile,
    slots_from_json,
    slots_to_json,
)

MILK = Label("09506000134352", date(2026, 11, 25), "expiry", "ABC123")
BUTTER = Label("09500000000011", None, None, None)
A, B, C = ("fridge", 0), ("fridge", 1), ("door", 2)


def ids() -> object:
    counter = count(1)
    return lambda: f"i{next(counter)}"


def look(grams: dict[SlotKey, float | None], labels: dict[SlotKey, Label] | None = None,
         captured: tuple[str, ...] = ("fridge", "door")) -> Observation:
    return Observation(grams, labels or {}, frozenset(captured))


def test_a_new_weight_with_a_label_is_an_added_item() -> None:
    slots, changes = reconcile({}, look({A: 1000.0, B: 0.3}, {A: MILK}), ids())  # type: ignore[arg-type]
    assert [(c.kind, c.key) for c in changes] == [("added", A)]
    assert slots == {A: SlotItem("i1", MILK, 1000.0, 1000.0)}


def test_an_item_without_a_readable_code_is_added_unidentified_then_identified() -> None:
    slots, changes = reconcile({}, look({A: 500.0}), ids())  # type: ignore[arg-type]
    assert changes[0].kind == "added" and slots[A].label is None
    slots, changes = reconcile(slots, look({A: 500.0}, {A: BUTTER}), ids())  # type: ignore[arg-type]
    assert [c.kind for c in changes] == ["identified"] and slots[A].label == BUTTER and slots[A].item_id == "i1"


def test_a_lighter_item_was_opened_once_and_its_fill_follows_the_weight() -> None:
    slots = {A: SlotItem("i1", MILK, 1000.0, 1000.0)}
    slots, changes = reconcile(slots, look({A: 1001.5}), ids())  # type: ignore[arg-type]
    assert changes == []  # noise
    slots, changes = reconcile(slots, look({A: 600.0}), ids())  # type: ignore[arg-type]
    assert [c.kind for c in changes] == ["opened"] and slots[A].opened and slots[A].fill == 0.6
    slots, changes = reconcile(slots, look({A: 300.0}), ids())  # type: ignore[arg-type]
    assert [c.kind for c in changes] == ["fill"] and slots[A].fill == 0.3


def test_a_weight_gone_is_a_removal_unless_the_camera_still_sees_the_package() -> None:
    slots = {A: SlotItem("i1", MILK, 1000.0, 200.0, opened=True), B: SlotItem("i2", BUTTER, 250.0, 250.0)}
    after, changes = reconcile(slots, look({A: 0.4, B: 0.2}, {A: MILK}), ids())  # type: ignore[arg-type]
    assert sorted((c.kind, c.item.item_id) for c in changes) == [("fill", "i1"), ("removed", "i2")]
    assert after[A].fill == 0.0 and B not in after
    # without a frame, the load cell decides
    after, changes = reconcile(slots, look({A: 0.4, B: 250.0}, captured=()), ids())  # type: ignore[arg-type]
    assert [(c.kind, c.item.item_id) for c in changes] == [("removed", "i1")]


def test_a_different_label_in_the_same_slot_is_a_swap() -> None:
    slots = {A: SlotItem("i1", MILK, 1000.0, 1000.0)}
    after, changes = reconcile(slots, look({A: 250.0}, {A: BUTTER}), ids())  # type: ignore[arg-type]
    assert [(c.kind, c.item.item_id) for c in changes] == [("removed", "i1"), ("added", "i1")]
    assert after[A].label == BUTTER


def test_a_package_moved_keeps_its_identity_opening_and_full_weight() -> None:
    slots = {A: SlotItem("i1", MILK, 1000.0, 700.0, opened=True)}
    after, changes = reconcile(slots, look({A: 0.0, C: 699.0}, {C: MILK}), ids())  # type: ignore[arg-type]
    assert [(c.kind, c.key, c.from_key) for c in changes] == [("moved", C, A)]
    assert after == {C: SlotItem("i1", MILK, 1000.0, 699.0, opened=True)}


def test_a_load_cell_without_a_reading_changes_nothing() -> None:
    slots = {A: SlotItem("i1", MILK, 1000.0, 1000.0)}
    after, changes = reconcile(slots, look({A: None, B: None}), ids())  # type: ignore[arg-type]
    assert after == slots and changes == []


def test_state_round_trips_through_json() -> None:
    slots = {A: SlotItem("i1", MILK, 1000.0, 700.0, opened=True), C: SlotItem("i2", None, 10.0, 10.0)}
    assert slots_from_json(slots_to_json(slots)) == slots


# ---- a household against the tracker -------------------------------------------------------


@dataclass
class Truth:
    slots: dict[SlotKey, tuple[str, Label, float, float, bool]] = field(default_factory=dict)
    events: Counter[str] = field(default_factory=Counter)
    uids: count = field(default_factory=lambda: count(1))  # type: ignore[type-arg]


LABELS = [Label(f"0950000000{n:03d}0"[:13] + "0", None, None, f"B{n}") for n in range(200)]
KEYS = [("fridge", s) for s in range(6)] + [("door", s) for s in range(3)]
operation = st.tuples(st.sampled_from(["add", "use", "use_up", "take", "move"]), st.integers(0, 99), st.integers(0, 99))


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(operation, min_size=1, max_size=4), min_size=1, max_size=12))
def test_the_tracker_follows_a_household_exactly(sessions: list[list[tuple[str, int, int]]]) -> None:
    truth = Truth()
    labels = iter(LABELS)
    slots: dict[SlotKey, SlotItem] = {}
    names: dict[str, str] = {}  # tracker item id -> truth uid
    seen: Counter[str] = Counter()
    new_id = ids()
    for session in sessions:
        touched: set[SlotKey] = set()
        for op, a, b in session:
            free = [k for k in KEYS if k not in truth.slots and k not in touched]
            taken = [k for k in truth.slots if k not in touched]
            if op == "add" and free:
                key = free[a % len(free)]
                truth.slots[key] = (f"u{next(truth.uids)}", next(labels), 100.0 + 10 * b, 100.0 + 10 * b, False)
                truth.events["item_added"] += 1
            elif op in ("use", "use_up") and taken:
                key = taken[a % len(taken)]
                uid, label, full, content, opened = truth.slots[key]
                if content <= 0:
                    continue
                used = content if op == "use_up" else min(content, max(tolerance_of(full) + 1, full * (b % 50) / 100))
                if not opened:
                    truth.events["item_opened"] += 1
                truth.slots[key] = (uid, label, full, content - used, True)
            elif op == "take" and taken:
                key = taken[a % len(taken)]
                del truth.slots[key]
                truth.events["item_removed"] += 1
            elif op == "move" and taken and free:
                key, to = taken[a % len(taken)], free[b % len(free)]
                if truth.slots[key][3] <= 0:
                    continue  # an emptied package weighs nothing in the mock: it is thrown away, not moved
                truth.slots[to] = truth.slots.pop(key)
                touched.add(to)
            else:
                continue
            touched.add(key)
        grams = {k: (truth.slots[k][3] if k in truth.slots else 0.0) for k in KEYS}
        seen_labels = {k: v[1] for k, v in truth.slots.items()}
        slots, changes = reconcile(slots, look(grams, seen_labels), new_id)  # type: ignore[arg-type]
        for change in changes:
            if change.kind == "added":
                names[change.item.item_id] = truth.slots[change.key][0]
            seen.update({"added": ["item_added"], "removed": ["item_removed"],
                         "opened": ["item_opened"]}.get(change.kind, []))
        assert set(slots) == set(truth.slots)
        for key, item in slots.items():
            uid, label, full, content, opened = truth.slots[key]
            assert names[item.item_id] == uid, "an item kept its identity through moves"
            assert (item.label, item.opened, item.full_g) == (label, opened, full)
            assert abs(item.fill - content / full) < 0.002
    assert seen == truth.events


def tolerance_of(full: float) -> float:
    from freshtap.device.tracker import tolerance

    return tolerance(full)
