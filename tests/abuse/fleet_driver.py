"""Publishes telemetry for some fridges at a fixed rate, from a process of its own (the flood tests and bench).

Run as `python -m tests.abuse.fleet_driver` with a JSON line on stdin:
`{"host", "port", "fridges": [{"id", "password"}]}`. It connects every fridge and prints `ready`;
then each JSON line `{"rate": messages/s per fridge, "duration": seconds, "first_seq": int,
"drain": seconds to wait for outstanding PUBACKs}` runs one phase: QoS 1 telemetry stamped with
the time of publishing (`at`, microseconds), answered by one JSON line `{"sent": {fridge_id:
count}, "acked": {fridge_id: count}, "refused": [fridge_ids refused at connect]}`. An empty
line ends it.
A process of its own keeps the publishers' work off the server's interpreter lock.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from freshtap.contract import Channel, CompartmentReading, TelemetryBody, TelemetryMessage, encode, topic


def _client(job: dict[str, Any], fridge: dict[str, str], connected: threading.Event, refused: list[str]) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=fridge["id"], protocol=mqtt.MQTTv311)
    client.username_pw_set(fridge["id"], fridge["password"])
    client.max_queued_messages_set(0)

    def on_connect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            refused.append(fridge["id"])
        connected.set()

    client.on_connect = on_connect
    client.connect(job["host"], job["port"], keepalive=60)
    client.loop_start()
    return client


def _payload(fridge_id: str, seq: int) -> bytes:
    message = TelemetryMessage(
        type="telemetry",
        fridge_id=fridge_id,
        seq=seq,
        at=datetime.now(UTC),
        body=TelemetryBody(compartments=[CompartmentReading(id="fridge", temp_c=3.8)], door_open=False),
    )
    return encode(message)


def _acked(info: mqtt.MQTTMessageInfo) -> bool:
    try:
        return info.is_published()
    except (RuntimeError, ValueError):
        return False  # never sent: the connection was gone


def main() -> None:
    job = json.loads(sys.stdin.readline())
    fridges = job["fridges"]
    refused: list[str] = []
    events = [threading.Event() for _ in fridges]
    clients = [_client(job, fridge, event, refused) for fridge, event in zip(fridges, events, strict=True)]
    for event in events:
        event.wait(30)
    print("ready", flush=True)
    while line := sys.stdin.readline().strip():
        print(json.dumps(run({**job, **json.loads(line)}, clients, refused)), flush=True)
    for client in clients:
        client.disconnect()
        client.loop_stop()


def run(job: dict[str, Any], clients: list[mqtt.Client], refused: list[str]) -> dict[str, Any]:
    fridges = job["fridges"]
    rate, duration = float(job["rate"]), float(job["duration"])
    seq0 = int(job["first_seq"])
    sent = [0] * len(fridges)
    infos: list[list[mqtt.MQTTMessageInfo]] = [[] for _ in fridges]
    start = time.monotonic()
    # Spread the fridges over one period, so they do not all publish at the same instant.
    due = [start + i / (len(fridges) * rate) for i in range(len(fridges))]
    end = start + duration
    while True:
        now = time.monotonic()
        if now >= end:
            break
        for i, fridge in enumerate(fridges):
            while due[i] <= now and due[i] < end:
                if fridge["id"] not in refused:
                    payload = _payload(fridge["id"], seq0 + sent[i])
                    infos[i].append(clients[i].publish(topic(fridge["id"], Channel.TELEMETRY), payload, qos=1))
                    sent[i] += 1
                due[i] += 1.0 / rate
        time.sleep(max(0.0, min(min(due), end) - time.monotonic()))
    drain_until = time.monotonic() + float(job.get("drain", 10.0))
    for fridge_infos in infos:
        for info in fridge_infos:
            left = drain_until - time.monotonic()
            if left <= 0:
                break
            try:
                info.wait_for_publish(left)
            except (RuntimeError, ValueError):
                continue  # never queued (connection lost): not acknowledged either
    acked = {fridge["id"]: sum(1 for info in infos[i] if _acked(info)) for i, fridge in enumerate(fridges)}
    return {"sent": {f["id"]: sent[i] for i, f in enumerate(fridges)}, "acked": acked, "refused": refused}


if __name__ == "__main__":
    main()
