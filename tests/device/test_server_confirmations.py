"""The server's side of confirmations (server/ingest/confirmations.py): what it confirms, batched and rate-limited.

Time is passed in (`monotonic`), so the rate limit is checked without waiting; the publisher is the
recording one the HTTP-only tools use. The end-to-end path (real server, Mosquitto, device uplinks)
is tests/faults/test_broker_restarts.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from freshtap.clock import ManualClock
from freshtap.contract import Channel, NoticeMessage, applied_seqs, decode, topic
from freshtap.server.ingest.confirmations import Confirmations, merge_ranges
from freshtap.server.ingest.service import IngestOutcome
from freshtap.server.services.publisher import RecordingPublisher

START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _telemetry(fridge_id: str, seq: int, *, seq_last: bool = False) -> bytes:
    body = {"compartments": [{"id": "fridge", "temp_c": 3.5}], "door_open": False}
    if seq_last:  # not how `encode` writes it, but valid JSON the server must read right
        return json.dumps({"v": 1, "type": "telemetry", "fridge_id": fridge_id, "at": "2026-11-23T12:00:00Z",
                           "body": {**body, "seq": 999}, "seq": seq}).encode()
    return json.dumps({"v": 1, "type": "telemetry", "fridge_id": fridge_id, "seq": seq,
                       "at": "2026-11-23T12:00:00Z", "body": body}).encode()


def _sent(publisher: RecordingPublisher) -> list[tuple[str, list[tuple[int, int]]]]:
    out = []
    for fridge_id, channel, payload, retain in publisher.sent:
        assert channel is Channel.NOTICES and not retain
        notice = decode(topic(fridge_id, channel), payload)
        assert isinstance(notice, NoticeMessage)
        out.append((fridge_id, applied_seqs(notice)))
    return out


def test_merge_ranges() -> None:
    assert merge_ranges([5, 1, 2, 3, 3, 9, 8]) == [(1, 3), (5, 5), (8, 9)]
    assert merge_ranges([]) == []


def test_one_notice_per_fridge_per_interval_carrying_everything_handled_meanwhile() -> None:
    now = [100.0]
    publisher = RecordingPublisher()
    confirmations = Confirmations(publisher, ManualClock(START), interval=1.0, monotonic=lambda: now[0])
    t = topic("f-1", Channel.TELEMETRY)
    confirmations.handled(t, _telemetry("f-1", 1), IngestOutcome("applied"))
    assert confirmations.flush() is None
    assert _sent(publisher) == [("f-1", [(1, 1)])]  # the first goes at once
    for seq in (2, 3, 5):
        confirmations.handled(t, _telemetry("f-1", seq), IngestOutcome("duplicate"))
    confirmations.handled(t, _telemetry("f-1", 4, seq_last=True), IngestOutcome("rejected", reason="invalid"))
    now[0] += 0.5
    assert confirmations.flush() == 101.0  # not before a second has passed
    assert len(publisher.sent) == 1
    now[0] += 0.5
    confirmations.flush()
    assert _sent(publisher)[1] == ("f-1", [(2, 5)])


def test_what_is_not_confirmed() -> None:
    publisher = RecordingPublisher()
    confirmations = Confirmations(publisher, ManualClock(START))
    confirmations.handled(topic("f-1", Channel.STATE), b'{"v":1,"type":"state"}', IngestOutcome("applied"))
    confirmations.handled(topic("f-2", Channel.EVENTS), _telemetry("f-2", 7), IngestOutcome("rejected", reason="unknown_fridge"))
    confirmations.handled("not/a/fridge/topic", _telemetry("f-3", 7), IngestOutcome("rejected", reason="bad_topic"))
    confirmations.handled(topic("f-4", Channel.EVENTS), b"not json", IngestOutcome("rejected", reason="not_json"))
    confirmations.flush(force=True)
    assert publisher.sent == []
    Confirmations.disabled().handled(topic("f-1", Channel.EVENTS), _telemetry("f-1", 1))  # a no-op


def test_a_batch_is_confirmed_message_by_message_and_stop_sends_the_rest() -> None:
    now = [0.0]
    publisher = RecordingPublisher()
    confirmations = Confirmations(publisher, ManualClock(START), monotonic=lambda: now[0])
    batch = [(topic(f, Channel.TELEMETRY), _telemetry(f, s)) for f, s in [("a", 1), ("b", 1), ("a", 2)]]
    confirmations.handled_batch(batch, [IngestOutcome("applied")] * 3)
    confirmations.flush()
    confirmations.handled(topic("a", Channel.TELEMETRY), _telemetry("a", 3))
    confirmations.stop()
    assert sorted(_sent(publisher)) == [("a", [(1, 2)]), ("a", [(3, 3)]), ("b", [(1, 1)])]
