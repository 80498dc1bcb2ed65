"""What changed inside the fridge, from its load cells and camera frames: a pure function.

The tracker knows, per slot, the item standing there (`SlotItem`: its id, its label as read, its
weight when it came in and now, whether it was opened). An `Observation` is what the sensors say
after the door closed: grams per slot (None where a load cell gave no reading) and, for the
compartments whose camera answered, the label read in each slot's cell of the frame.
`reconcile(slots, observation)` returns the new slots and the `Change`s that lead there:

- a slot that gained weight (at least `PRESENT_G`) holds a new item: `added` (its label is None
  when no code could be read; the caller may capture again first);
- a slot that lost its weight lost its item: `removed` — unless the camera still shows the same
  label there, in which case the package is still standing, empty (fill 0);
- an item whose weight fell below its weight on arrival (by more than `tolerance`) was `opened`
  the first time that happens — the fridge cannot see a seal break; the first drop in weight is
  the best evidence of one — and its `fill` is now grams / grams on arrival;
- a different label in an occupied slot is a swap: `removed` then `added`;
- a readable label on an item that had none identifies it (`identified`);
- a removal and an addition in one observation with the same label and about the same weight
  are one item that was `moved`; it keeps its id, its opening and its weight on arrival.

Weights only rise above the weight on arrival through noise or a refill; a rise beyond the
tolerance is taken as the new full weight. A slot whose load cell gave no reading is left as it
was. Nothing here reads a clock or does I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Literal

__all__ = [
    "PRESENT_G",
    "Change",
    "ChangeKind",
    "Label",
    "Observation",
    "SlotItem",
    "SlotKey",
    "reconcile",
    "slots_from_json",
    "slots_to_json",
    "tolerance",
]

PRESENT_G = 5.0
"""A load cell reading at or above this means something stands on it."""

SlotKey = tuple[str, int]
"""(compartment, slot number)."""

ChangeKind = Literal["added", "removed", "opened", "moved", "identified", "fill"]


def tolerance(full_g: float) -> float:
    """How far a reading may stray from an item's weight before it counts as a change."""
    return max(3.0, 0.01 * full_g)


@dataclass(frozen=True)
class Label:
    """What a package's code says, as the label reader decoded it."""

    gtin: str
    label_expiry: date | None = None
    expiry_kind: Literal["expiry", "best_before"] | None = None
    batch: str | None = None


@dataclass(frozen=True)
class SlotItem:
    item_id: str
    label: Label | None
    full_g: float
    grams: float
    opened: bool = False

    @property
    def fill(self) -> float:
        return round(max(0.0, min(1.0, self.grams / self.full_g)), 3) if self.full_g > 0 else 0.0


@dataclass(frozen=True)
class Observation:
    grams: Mapping[SlotKey, float | None]
    """Every slot's reading; None (or absent) where the load cell gave none."""
    labels: Mapping[SlotKey, Label] = field(default_factory=dict)
    """The label read in each slot's cell, for the compartments in `captured`."""
    captured: frozenset[str] = frozenset()
    """Compartments whose camera delivered a frame for this observation."""


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    key: SlotKey
    item: SlotItem
    """The item after the change (for `removed`: as it was when it left)."""
    previous: SlotItem | None = None
    """The item before the change (`moved`: at its old slot; `fill`, `identified`: before)."""
    from_key: SlotKey | None = None
    """Where a `moved` item stood before."""


def reconcile(
    slots: Mapping[SlotKey, SlotItem],
    observation: Observation,
    new_id: Callable[[], str],
) -> tuple[dict[SlotKey, SlotItem], list[Change]]:
    """The slots after `observation`, and the changes in the order the caller should report them.

    Order: removals and moves first (slot order), then additions, then openings, identifications
    and fill changes. `new_id` names each added item.
    """
    result = dict(slots)
    removed: list[tuple[SlotKey, SlotItem]] = []
    added: list[tuple[SlotKey, float, Label | None]] = []
    updates: list[Change] = []

    keys = sorted(set(slots) | {k for k, g in observation.grams.items() if g is not None})
    for key in keys:
        grams = observation.grams.get(key)
        if grams is None:
            continue  # no reading: keep what we knew
        before = slots.get(key)
        label = observation.labels.get(key) if key[0] in observation.captured else None
        if before is None:
            if grams >= PRESENT_G:
                added.append((key, grams, label))
            continue
        if grams < PRESENT_G:
            if label is not None and (before.label is None or label == before.label):
                _weigh(before, grams, key, result, updates)  # still there, empty
            else:
                removed.append((key, before))
                del result[key]
            continue
        if label is not None and before.label is not None and label != before.label:
            removed.append((key, before))
            del result[key]
            added.append((key, grams, label))
            continue
        current = before
        if label is not None and before.label is None:
            current = replace(before, label=label)
            updates.append(Change("identified", key, current, previous=before))
            result[key] = current
        _weigh(current, grams, key, result, updates)

    changes: list[Change] = []
    unmatched_removals = list(removed)
    additions: list[Change] = []
    for key, grams, label in added:
        match = _moved_item(unmatched_removals, grams, label)
        if match is not None:
            unmatched_removals.remove(match)
            from_key, item = match
            moved = replace(item, grams=grams)
            result[key] = moved
            changes.append(Change("moved", key, moved, previous=item, from_key=from_key))
            continue
        item = SlotItem(new_id(), label, full_g=grams, grams=grams)
        result[key] = item
        additions.append(Change("added", key, item))
    removals = [Change("removed", key, item) for key, item in unmatched_removals]
    return result, removals + changes + additions + updates


def _weigh(item: SlotItem, grams: float, key: SlotKey, result: dict[SlotKey, SlotItem], updates: list[Change]) -> None:
    full = item.full_g
    opened = item.opened
    if grams > full + tolerance(full):
        full = grams  # refilled, or the package came back heavier: the new full weight
    elif grams < full - tolerance(full) and not opened:
        opened = True
    after = replace(item, grams=grams, full_g=full, opened=opened)
    result[key] = after
    if opened and not item.opened:
        updates.append(Change("opened", key, after, previous=item))
    elif abs(after.fill - item.fill) >= 0.005 or after.full_g != item.full_g:
        updates.append(Change("fill", key, after, previous=item))


def _moved_item(
    removed: list[tuple[SlotKey, SlotItem]], grams: float, label: Label | None
) -> tuple[SlotKey, SlotItem] | None:
    if label is None:
        return None
    for key, item in removed:
        if item.label == label and abs(item.grams - grams) <= tolerance(item.full_g):
            return key, item
    return None


# ---- persistence ---------------------------------------------------------------------------


def slots_to_json(slots: Mapping[SlotKey, SlotItem]) -> list[dict[str, Any]]:
    out = []
    for (compartment, slot), item in sorted(slots.items()):
        label = item.label
        out.append(
            {
                "compartment": compartment,
                "slot": slot,
                "item_id": item.item_id,
                "full_g": item.full_g,
                "grams": item.grams,
                "opened": item.opened,
                "label": None
                if label is None
                else {
                    "gtin": label.gtin,
                    "label_expiry": None if label.label_expiry is None else label.label_expiry.isoformat(),
                    "expiry_kind": label.expiry_kind,
                    "batch": label.batch,
                },
            }
        )
    return out


def slots_from_json(data: list[dict[str, Any]]) -> dict[SlotKey, SlotItem]:
    slots: dict[SlotKey, SlotItem] = {}
    for entry in data:
        raw = entry.get("label")
        label = None
        if raw is not None:
            expiry = raw.get("label_expiry")
            label = Label(
                gtin=str(raw["gtin"]),
                label_expiry=None if expiry is None else date.fromisoformat(expiry),
                expiry_kind=raw.get("expiry_kind"),
                batch=raw.get("batch"),
            )
        key = (str(entry["compartment"]), int(entry["slot"]))
        slots[key] = SlotItem(
            item_id=str(entry["item_id"]),
            label=label,
            full_g=float(entry["full_g"]),
            grams=float(entry["grams"]),
            opened=bool(entry["opened"]),
        )
    return slots
