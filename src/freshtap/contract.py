"""The freshtap wire contract, version 1, in code.

This module is the only place that spells a topic string. It builds, recognises and parses
topics (raising `ValueError` on a malformed one), holds the pydantic model of every payload, the
64 KiB size limit and the schema version, and turns raw MQTT payloads into validated messages
or a `ContractViolation` carrying a short, countable reason.

Device, simulator and server import it; it imports nothing of theirs.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)

from freshtap.gtin import is_valid_gtin14

__all__ = [
    "CHANNEL_TYPE",
    "DEVICE_TO_SERVER",
    "FRIDGE_ID_PATTERN",
    "MAX_APPLIED_RANGES",
    "MAX_PAYLOAD_BYTES",
    "SCHEMA_VERSION",
    "SERVER_TO_DEVICE",
    "TOPIC_PREFIX",
    "AppliedBody",
    "Basis",
    "Channel",
    "Compartment",
    "CompartmentReading",
    "ContractViolation",
    "EventBody",
    "EventKind",
    "EventMessage",
    "FreshnessInfo",
    "FreshnessState",
    "InventoryBody",
    "InventoryItem",
    "InventoryMessage",
    "Message",
    "Money",
    "NoticeBody",
    "NoticeMessage",
    "OfferEntry",
    "OfferMerchant",
    "OfferProduct",
    "OfferReason",
    "OffersBody",
    "OffersMessage",
    "StateBody",
    "StateMessage",
    "TelemetryBody",
    "TelemetryMessage",
    "applied_notice",
    "applied_seqs",
    "decode",
    "encode",
    "format_utc",
    "parse_topic",
    "subscription_filter",
    "topic",
    "validate_fridge_id",
]

SCHEMA_VERSION = 1
MAX_PAYLOAD_BYTES = 64 * 1024
TOPIC_PREFIX = f"freshtap/v{SCHEMA_VERSION}/fridges"
FRIDGE_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")


class Channel(StrEnum):
    """The last level of a fridge topic."""

    STATE = "state"
    TELEMETRY = "telemetry"
    INVENTORY = "inventory"
    EVENTS = "events"
    OFFERS = "offers"
    NOTICES = "notices"


DEVICE_TO_SERVER: frozenset[Channel] = frozenset({Channel.STATE, Channel.TELEMETRY, Channel.INVENTORY, Channel.EVENTS})
SERVER_TO_DEVICE: frozenset[Channel] = frozenset({Channel.OFFERS, Channel.NOTICES})

# The payload `type` carried on each channel.
CHANNEL_TYPE: dict[Channel, str] = {
    Channel.STATE: "state",
    Channel.TELEMETRY: "telemetry",
    Channel.INVENTORY: "inventory",
    Channel.EVENTS: "event",
    Channel.OFFERS: "offers",
    Channel.NOTICES: "notice",
}


def validate_fridge_id(fridge_id: str) -> str:
    """Return `fridge_id` if it is 1-64 of `A-Z a-z 0-9 _ -`, else raise `ValueError`."""
    if not isinstance(fridge_id, str) or not FRIDGE_ID_PATTERN.fullmatch(fridge_id):
        raise ValueError(f"invalid fridge id: {fridge_id!r}")
    return fridge_id


def topic(fridge_id: str, channel: Channel) -> str:
    """The topic of `channel` for one fridge."""
    return f"{TOPIC_PREFIX}/{validate_fridge_id(fridge_id)}/{Channel(channel).value}"


def subscription_filter(channel: Channel, fridge_id: str | None = None, share_group: str | None = None) -> str:
    """A subscription filter for `channel`: one fridge's, or every fridge's (`+`) when `fridge_id` is None.

    `share_group` prefixes an MQTT shared subscription (`$share/GROUP/...`), for brokers that have them.
    """
    level = "+" if fridge_id is None else validate_fridge_id(fridge_id)
    filt = f"{TOPIC_PREFIX}/{level}/{Channel(channel).value}"
    if share_group is not None:
        if not FRIDGE_ID_PATTERN.fullmatch(share_group):
            raise ValueError(f"invalid share group: {share_group!r}")
        filt = f"$share/{share_group}/{filt}"
    return filt


def parse_topic(name: str) -> tuple[str, Channel]:
    """Split a concrete fridge topic into `(fridge_id, channel)`; `ValueError` if it is not one."""
    prefix = TOPIC_PREFIX + "/"
    if not name.startswith(prefix):
        raise ValueError(f"not a freshtap v{SCHEMA_VERSION} fridge topic: {name!r}")
    parts = name[len(prefix) :].split("/")
    if len(parts) != 2:
        raise ValueError(f"malformed fridge topic: {name!r}")
    fridge_id, last = parts
    validate_fridge_id(fridge_id)
    try:
        channel = Channel(last)
    except ValueError:
        raise ValueError(f"unknown channel in topic: {name!r}") from None
    return fridge_id, channel


# ---------------------------------------------------------------------------------------------
# Scalar types


def _require_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() != UTC.utcoffset(None):
        raise ValueError("timestamp must be UTC, RFC 3339 with Z")
    return value.astimezone(UTC)


def format_utc(value: datetime) -> str:
    """RFC 3339 with `Z`, second precision unless sub-second parts exist."""
    value = value.astimezone(UTC)
    text = value.isoformat().replace("+00:00", "Z")
    return text


UtcDateTime = Annotated[
    datetime,
    AfterValidator(_require_utc),
    PlainSerializer(format_utc, return_type=str, when_used="json"),
]


def _check_gtin(value: str) -> str:
    if not is_valid_gtin14(value):
        raise ValueError("gtin must be 14 digits with a valid check digit")
    return value


Gtin14 = Annotated[
    str,
    AfterValidator(_check_gtin),
    WithJsonSchema({"type": "string", "pattern": "^[0-9]{14}$", "format": "gtin"}),
]
FridgeId = Annotated[str, Field(pattern=FRIDGE_ID_PATTERN.pattern, min_length=1, max_length=64)]
ShortText = Annotated[str, Field(max_length=200)]


class _Strict(BaseModel):
    # Strict types (no "42" -> 42); unknown fields are ignored so that fields added to v1 later do
    # not break older readers (CONTRACT.md: "fields may be added").
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class Money(_Strict):
    amount_minor: int = Field(ge=0)
    currency: str = Field(pattern=r"^[A-Z]{3}$")


class FreshnessState(StrEnum):
    FRESH = "fresh"
    USE_SOON = "use_soon"
    EXPIRING = "expiring"
    EXPIRED = "expired"


class Basis(StrEnum):
    LABEL = "label"
    REFERENCE = "reference"
    OPENED = "opened"
    TEMPERATURE = "temperature"


class Compartment(StrEnum):
    FRIDGE = "fridge"
    FREEZER = "freezer"
    DOOR = "door"
    CRISPER = "crisper"


# ---------------------------------------------------------------------------------------------
# Bodies


class CompartmentReading(_Strict):
    id: Annotated[str, Field(min_length=1, max_length=32)]
    temp_c: float = Field(ge=-60, le=80)


class TelemetryBody(_Strict):
    compartments: list[CompartmentReading] = Field(max_length=16)
    door_open: bool


class FreshnessInfo(_Strict):
    state: FreshnessState
    expires_at: UtcDateTime | None = None
    basis: Basis
    explanation: str | None = None


class InventoryItem(_Strict):
    item_id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
    gtin: Gtin14 | None = None
    name: Annotated[str, Field(min_length=1, max_length=200)]
    category: Annotated[str, Field(min_length=1, max_length=64)]
    quantity: float = Field(default=1, ge=0)
    unit: Annotated[str, Field(max_length=16)] = "pcs"
    fill: float | None = Field(default=None, ge=0, le=1)
    compartment: Annotated[str, Field(min_length=1, max_length=32)] = "fridge"
    added_at: UtcDateTime
    opened_at: UtcDateTime | None = None
    label_expiry: date | None = None
    expiry_kind: Literal["expiry", "best_before"] | None = None
    batch: Annotated[str, Field(max_length=20)] | None = None
    freshness: FreshnessInfo | None = None


class InventoryBody(_Strict):
    items: list[InventoryItem] = Field(max_length=500)


class EventKind(StrEnum):
    ITEM_ADDED = "item_added"
    ITEM_REMOVED = "item_removed"
    ITEM_OPENED = "item_opened"
    DOOR_LEFT_OPEN = "door_left_open"
    TEMPERATURE_ALARM = "temperature_alarm"


class EventBody(_Strict):
    kind: EventKind
    item_id: Annotated[str, Field(max_length=64)] | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class StateBody(_Strict):
    online: bool
    model: ShortText | None = None
    firmware: ShortText | None = None
    agent: ShortText | None = None


class OfferProduct(_Strict):
    gtin: Gtin14 | None = None
    name: str


class OfferMerchant(_Strict):
    id: str
    name: str


class OfferReason(_Strict):
    kind: Literal["expiring", "low_fill", "runout"]
    text: str
    explanation: str | None = None
    """Added in v1: why this merchant's offer was chosen ("cheapest of 3 matching offers")."""


class OfferEntry(_Strict):
    proposal_id: str
    offer_id: str
    item_id: str
    product: OfferProduct
    merchant: OfferMerchant
    price: Money
    reason: OfferReason
    expires_at: UtcDateTime
    original_price: Money | None = None
    """Added in v1: the price before the offer's discount; null when there is none."""


class OffersBody(_Strict):
    offers: list[OfferEntry]


class NoticeBody(BaseModel):
    # Notices carry kind-specific fields beside `kind`; they are kept, not ignored.
    model_config = ConfigDict(strict=True, extra="allow", frozen=True)

    kind: Literal["order_status", "review_draft", "reward", "applied"]


MAX_APPLIED_RANGES = 1000
"""At most this many seq ranges in one `applied` notice (about 42 KiB at the largest seqs)."""

SeqRange = tuple[Annotated[int, Field(ge=0, le=2**63 - 1)], Annotated[int, Field(ge=0, le=2**63 - 1)]]


class AppliedBody(_Strict):
    """The body of a `notice` of kind `applied`: the fridge's messages the server is done with.

    `seqs` are inclusive `[first, last]` ranges of `seq`, ascending and disjoint. Each named message
    is durably applied, or deliberately ignored for good (a duplicate, a stale snapshot, rejected as
    invalid): the fridge may forget it. A seq never named may still be in flight; sending it again
    is harmless (the server applies each `(fridge_id, seq)` once).
    """

    kind: Literal["applied"]
    seqs: list[SeqRange] = Field(min_length=1, max_length=MAX_APPLIED_RANGES)


def applied_notice(fridge_id: str, seqs: list[tuple[int, int]], at: datetime) -> NoticeMessage:
    """The `applied` notice telling `fridge_id` that the messages in `seqs` are handled."""
    body = AppliedBody(kind="applied", seqs=seqs)
    return NoticeMessage(type="notice", fridge_id=fridge_id, at=at, body=NoticeBody.model_validate(body.model_dump()))


def applied_seqs(notice: NoticeMessage) -> list[tuple[int, int]]:
    """The ranges of an `applied` notice; `ContractViolation("invalid")` if its body is malformed."""
    try:
        body = AppliedBody.model_validate(notice.body.model_dump(), strict=False)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise ContractViolation("invalid", f"applied notice: {where}: {first.get('msg')}"[:300]) from None
    if any(first > last for first, last in body.seqs):
        raise ContractViolation("invalid", "applied notice: a range ends before it starts")
    return [(first, last) for first, last in body.seqs]


# ---------------------------------------------------------------------------------------------
# Envelopes


class _Envelope(_Strict):
    v: Literal[1] = 1
    fridge_id: FridgeId
    seq: int | None = Field(default=None, ge=0, le=2**63 - 1)
    at: UtcDateTime


class StateMessage(_Envelope):
    type: Literal["state"]
    body: StateBody


class TelemetryMessage(_Envelope):
    type: Literal["telemetry"]
    seq: int = Field(ge=0, le=2**63 - 1)
    body: TelemetryBody


class InventoryMessage(_Envelope):
    type: Literal["inventory"]
    seq: int = Field(ge=0, le=2**63 - 1)
    body: InventoryBody


class EventMessage(_Envelope):
    type: Literal["event"]
    seq: int = Field(ge=0, le=2**63 - 1)
    body: EventBody


class OffersMessage(_Envelope):
    type: Literal["offers"]
    body: OffersBody


class NoticeMessage(_Envelope):
    type: Literal["notice"]
    body: NoticeBody


Message = Annotated[
    StateMessage | TelemetryMessage | InventoryMessage | EventMessage | OffersMessage | NoticeMessage,
    Field(discriminator="type"),
]
_MESSAGE_ADAPTER: TypeAdapter[Message] = TypeAdapter(Message)
_KNOWN_TYPES = frozenset(CHANNEL_TYPE.values())


class ContractViolation(ValueError):
    """A payload or topic that does not follow the contract.

    `reason` is one short, stable word for counting (`too_large`, `not_json`, `not_object`,
    `bad_version`, `unknown_type`, `invalid`, `fridge_mismatch`, `wrong_channel`, `bad_topic`);
    `detail` says what exactly was wrong.
    """

    REASONS = (
        "too_large",
        "not_json",
        "not_object",
        "bad_version",
        "unknown_type",
        "invalid",
        "fridge_mismatch",
        "wrong_channel",
        "bad_topic",
    )

    def __init__(self, reason: str, detail: str) -> None:
        assert reason in self.REASONS, reason
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def decode(topic_name: str, payload: bytes | bytearray) -> Message:
    """Validate one MQTT message against the contract and return it as a model.

    Raises `ContractViolation` with a countable reason; never anything else for any input.
    """
    try:
        fridge_id, channel = parse_topic(topic_name)
    except ValueError as exc:
        raise ContractViolation("bad_topic", str(exc)) from None
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ContractViolation("too_large", f"{len(payload)} bytes > {MAX_PAYLOAD_BYTES}")
    if b"\\u0000" in payload:
        # PostgreSQL cannot store NUL in text and no field has a use for it: refuse, don't guess.
        raise ContractViolation("invalid", "a string contains a NUL character")
    try:
        raw = json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise ContractViolation("not_json", str(exc)[:200]) from None
    if not isinstance(raw, dict):
        raise ContractViolation("not_object", f"payload is a JSON {type(raw).__name__}")
    if raw.get("v") != SCHEMA_VERSION or isinstance(raw.get("v"), bool):
        raise ContractViolation("bad_version", f"v must be {SCHEMA_VERSION}, got {raw.get('v')!r}")
    kind = raw.get("type")
    if not isinstance(kind, str) or kind not in _KNOWN_TYPES:
        raise ContractViolation("unknown_type", f"type {kind!r}")
    if kind != CHANNEL_TYPE[channel]:
        raise ContractViolation("wrong_channel", f"type {kind!r} on the {channel.value} topic")
    try:
        message = _MESSAGE_ADAPTER.validate_json(bytes(payload), strict=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise ContractViolation("invalid", f"{where}: {first.get('msg')}"[:300]) from None
    except RecursionError:
        raise ContractViolation("invalid", "nested too deeply") from None
    if message.fridge_id != fridge_id:
        raise ContractViolation("fridge_mismatch", f"payload fridge_id {message.fridge_id!r} on topic of {fridge_id!r}")
    return message


def encode(message: BaseModel) -> bytes:
    """Serialise a message model to its wire form; `ValueError` if it exceeds the size limit."""
    data = message.model_dump_json(exclude_none=False).encode()
    if len(data) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"encoded message is {len(data)} bytes, over {MAX_PAYLOAD_BYTES}")
    return data
