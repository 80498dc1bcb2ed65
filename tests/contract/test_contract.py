"""The wire contract in code: topics, strict payloads, countable rejections."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from freshtap import contract
from freshtap.contract import (
    Channel,
    ContractViolation,
    decode,
    encode,
    parse_topic,
    subscription_filter,
    topic,
)
from freshtap.gtin import check_digit, is_valid_gtin14, to_gtin14

REPO = Path(__file__).resolve().parents[2]
INVENTORY_TOPIC = "freshtap/v1/fridges/f-001/inventory"


def example_inventory() -> dict[str, Any]:
    # The example from CONTRACT.md, verbatim.
    return {
        "v": 1,
        "type": "inventory",
        "fridge_id": "f-001",
        "seq": 42,
        "at": "2026-11-23T13:00:00Z",
        "body": {
            "items": [
                {
                    "item_id": "a1b2",
                    "gtin": "09506000134352",
                    "name": "Whole milk 1 L",
                    "category": "dairy",
                    "quantity": 1,
                    "unit": "pcs",
                    "fill": 0.4,
                    "compartment": "fridge",
                    "added_at": "2026-11-20T08:00:00Z",
                    "opened_at": None,
                    "label_expiry": "2026-11-25",
                    "batch": "ABC123",
                    "freshness": {"state": "expiring", "expires_at": "2026-11-24T09:00:00Z", "basis": "label"},
                }
            ]
        },
    }


def test_topics_round_trip() -> None:
    for channel in Channel:
        name = topic("f-001", channel)
        assert name == f"freshtap/v1/fridges/f-001/{channel.value}"
        assert parse_topic(name) == ("f-001", channel)
    assert subscription_filter(Channel.INVENTORY) == "freshtap/v1/fridges/+/inventory"
    assert subscription_filter(Channel.STATE, share_group="ingest") == "$share/ingest/freshtap/v1/fridges/+/state"


@pytest.mark.parametrize("bad", ["", "a/b", "f 1", "x" * 65, "f+", "#", "ü"])
def test_malformed_fridge_ids_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        topic(bad, Channel.STATE)


@pytest.mark.parametrize(
    "name",
    [
        "freshtap/v1/fridges/f-001",
        "freshtap/v2/fridges/f/state",
        "freshtap/v1/fridges/f/x/state",
        "freshtap/v1/fridges/f/gossip",
        "other",
    ],
)
def test_parse_topic_refuses_what_is_not_a_fridge_topic(name: str) -> None:
    with pytest.raises(ValueError):
        parse_topic(name)


def test_contract_example_decodes_and_round_trips() -> None:
    message = decode(INVENTORY_TOPIC, json.dumps(example_inventory()).encode())
    assert isinstance(message, contract.InventoryMessage)
    assert message.at == datetime(2026, 11, 23, 13, tzinfo=UTC)
    again = decode(INVENTORY_TOPIC, encode(message))
    assert again == message
    assert b'"at":"2026-11-23T13:00:00Z"' in encode(message)


def _with(**changes: Any) -> bytes:
    payload = example_inventory()
    payload.update(changes)
    return json.dumps(payload).encode()


def _item(**changes: Any) -> bytes:
    payload = example_inventory()
    payload["body"]["items"][0].update(changes)
    return json.dumps(payload).encode()


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\xff\xfe", "not_json"),
        (b"[1, 2]", "not_object"),
        (_with(v=2), "bad_version"),
        (_with(v=True), "bad_version"),
        (_with(type="gossip"), "unknown_type"),
        (_with(type="telemetry"), "wrong_channel"),
        (_with(seq="42"), "invalid"),
        (_with(seq=-1), "invalid"),
        (_with(at="2026-11-23T14:00:00+01:00"), "invalid"),
        (_with(at="2026-11-23T13:00:00"), "invalid"),
        (_item(gtin="09506000134353"), "invalid"),
        (_item(fill=1.5), "invalid"),
        (_item(quantity="1"), "invalid"),
        (_with(fridge_id="f-002"), "fridge_mismatch"),
        (b" " * (contract.MAX_PAYLOAD_BYTES + 1), "too_large"),
    ],
)
def test_bad_payloads_are_rejected_with_a_countable_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(ContractViolation) as caught:
        decode(INVENTORY_TOPIC, payload)
    assert caught.value.reason == reason


def test_missing_seq_on_a_device_message_is_invalid() -> None:
    payload = example_inventory()
    del payload["seq"]
    with pytest.raises(ContractViolation, match="invalid"):
        decode(INVENTORY_TOPIC, json.dumps(payload).encode())


def test_unknown_fields_are_ignored_for_forward_compatibility() -> None:
    message = decode(INVENTORY_TOPIC, _with(added_in_v1_later=True))
    assert message.fridge_id == "f-001"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_never_raise_anything_but_a_violation(payload: bytes) -> None:
    try:
        decode(INVENTORY_TOPIC, payload)
    except ContractViolation as violation:
        assert violation.reason in ContractViolation.REASONS


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["v", "type", "fridge_id", "seq", "at", "body"]), json_values))
def test_arbitrary_json_objects_never_raise_anything_but_a_violation(obj: dict[str, Any]) -> None:
    try:
        decode(INVENTORY_TOPIC, json.dumps(obj).encode())
    except ContractViolation as violation:
        assert violation.reason in ContractViolation.REASONS


def test_deeply_nested_json_is_a_violation_not_a_crash() -> None:
    deep = b'{"v":1,"type":"event","body":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(ContractViolation):
        decode("freshtap/v1/fridges/f-001/events", deep[: contract.MAX_PAYLOAD_BYTES])


def test_gtin_check_digits() -> None:
    assert is_valid_gtin14("09506000134352")
    assert not is_valid_gtin14("09506000134353")
    assert not is_valid_gtin14("0950600013435")
    assert to_gtin14("9506000134352") == "09506000134352"
    assert check_digit("0950600013435") == 2
    with pytest.raises(ValueError):
        to_gtin14("9506000134353")


def test_nothing_else_spells_a_topic_string() -> None:
    offenders = []
    for folder in ("src", "server", "device", "simulator", "firmware-mock"):
        for path in (REPO / folder).rglob("*.py"):
            if path.name == "contract.py" and path.parent.name == "freshtap":
                continue
            if "freshtap/v1" in path.read_text(encoding="utf-8"):
                offenders.append(str(path.relative_to(REPO)))
    assert offenders == []
