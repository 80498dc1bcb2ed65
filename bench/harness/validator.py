"""Child process: the baselines' consumer, a paho subscriber in a process of its own.

    python -m harness.validator HOST PORT USERNAME PASSWORD count --warmup W --messages N
    python -m harness.validator HOST PORT USERNAME PASSWORD echo --fridge FRIDGE_ID

Both subscribe at QoS 1 to every fridge's device -> server channels and check each message with
`freshtap.contract.decode`, as the server's ingest does first — and do nothing else with it.
`count` prints `READY`, then `WARM <t>` once W messages arrived and `DONE <json>` (count, first and
last arrival as `time.time()`, invalid) once W + N did. `echo` answers each inventory message of
one fridge with an `offers` message for its newest item, retained, as a server would: the floor
of publish-to-offer latency without any database.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any


def main(argv: list[str]) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from freshtap.contract import (
        DEVICE_TO_SERVER,
        Channel,
        ContractViolation,
        InventoryMessage,
        Money,
        OfferEntry,
        OfferMerchant,
        OfferProduct,
        OfferReason,
        OffersBody,
        OffersMessage,
        decode,
        encode,
        subscription_filter,
        topic,
    )

    parser = argparse.ArgumentParser()
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("username")
    parser.add_argument("password")
    parser.add_argument("mode", choices=["count", "echo"])
    parser.add_argument("--warmup", type=int, default=0)
    parser.add_argument("--messages", type=int, default=0)
    parser.add_argument("--fridge", default="")
    args = parser.parse_args(argv)

    state: dict[str, Any] = {"count": 0, "invalid": 0, "first": None, "last": None}
    subscribed = threading.Event()
    finished = threading.Event()
    target = args.warmup + args.messages

    def on_connect(client: mqtt.Client, _u: object, _f: object, reason: Any, _p: object) -> None:
        if reason.is_failure:
            print(f"REFUSED {reason}", flush=True)
            finished.set()
            return
        client.subscribe([(subscription_filter(ch), 1) for ch in sorted(DEVICE_TO_SERVER)])

    def on_subscribe(_c: mqtt.Client, _u: object, _m: int, reasons: list[Any], _p: object) -> None:
        if any(r.is_failure for r in reasons):
            print(f"REFUSED subscription {reasons}", flush=True)
            finished.set()
            return
        subscribed.set()

    def on_count(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        try:
            decode(msg.topic, msg.payload)
        except ContractViolation:
            state["invalid"] += 1
        now = time.time()
        state["count"] += 1
        if state["first"] is None:
            state["first"] = now
        state["last"] = now
        if state["count"] == args.warmup and args.warmup:
            print(f"WARM {now}", flush=True)
        if state["count"] == target:
            finished.set()

    def on_echo(client: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        try:
            message = decode(msg.topic, msg.payload)
        except ContractViolation:
            state["invalid"] += 1
            return
        if not isinstance(message, InventoryMessage) or message.fridge_id != args.fridge or not message.body.items:
            return
        item = message.body.items[-1]
        now = datetime.now(UTC).replace(microsecond=0)
        entry = OfferEntry(
            proposal_id=f"pr-{uuid.uuid4().hex[:12]}",
            offer_id="of-echo",
            item_id=item.item_id,
            product=OfferProduct(gtin=item.gtin or "09506000134352", name=item.name),
            merchant=OfferMerchant(id="m-echo", name="Echo"),
            price=Money(amount_minor=1290, currency="CNY"),
            reason=OfferReason(kind="expiring", text=f"{item.name} expires soon"),
            expires_at=now + timedelta(hours=24),
        )
        offers = OffersMessage(v=1, type="offers", fridge_id=args.fridge, at=now, body=OffersBody(offers=[entry]))
        client.publish(topic(args.fridge, Channel.OFFERS), encode(offers), qos=1, retain=True)

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"freshtap-bench-{uuid.uuid4().hex[:8]}",
        clean_session=True,
        protocol=mqtt.MQTTv311,
    )
    client.username_pw_set(args.username, args.password)
    client.max_inflight_messages_set(1000)
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_count if args.mode == "count" else on_echo
    client.connect(args.host, args.port, keepalive=60)
    client.loop_start()
    if not subscribed.wait(30):
        print("REFUSED no SUBACK within 30 s", flush=True)
        sys.exit(2)
    print("READY", flush=True)
    if args.mode == "count":
        finished.wait()
        print("DONE " + json.dumps(state), flush=True)
    else:
        sys.stdin.read()  # until the parent closes our stdin (or ends us)
    client.disconnect()
    client.loop_stop()


if __name__ == "__main__":
    main(sys.argv[1:])
