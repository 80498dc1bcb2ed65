"""Driving many light fridges from one event loop: connect them, blast QoS 1 messages, pace a rate."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from freshtap.contract import Channel, subscription_filter

from .stack import Fridge
from .wire import LightClient, MessageHandler

__all__ = ["blast", "connect_fridges", "paced"]


async def connect_fridges(
    host: str,
    port: int,
    fridges: Sequence[Fridge],
    *,
    subscribe: bool = False,
    clean_session: bool = True,
    concurrency: int = 50,
    on_message: Callable[[Fridge], MessageHandler] | None = None,
    on_connected: Callable[[], None] | None = None,
    window: int = 200,
) -> list[LightClient]:
    """One connection per fridge (client id = username = fridge id), `concurrency` handshakes at a time.

    With `subscribe`, each also subscribes to its own `offers` and `notices` topics, as an agent does.
    """
    gate = asyncio.Semaphore(concurrency)

    async def one(fridge: Fridge) -> LightClient:
        handler = on_message(fridge) if on_message is not None else None
        client = LightClient(
            host, port, fridge.fridge_id, fridge.fridge_id, fridge.password,
            clean_session=clean_session, on_message=handler, window=window,
        )
        async with gate:
            await client.connect()
            if subscribe:
                await client.subscribe(
                    [(subscription_filter(ch, fridge.fridge_id), 1) for ch in (Channel.OFFERS, Channel.NOTICES)]
                )
        if on_connected is not None:
            on_connected()
        return client

    return list(await asyncio.gather(*(one(f) for f in fridges)))


async def blast(clients: Sequence[LightClient], messages: Sequence[Sequence[tuple[str, bytes]]]) -> float:
    """Publish each client's messages at QoS 1 as fast as its window allows; seconds until all are acknowledged."""
    started = time.perf_counter()

    async def one(client: LightClient, batch: Sequence[tuple[str, bytes]]) -> None:
        acks = [await client.publish(t, p) for t, p in batch]
        await client.drain()
        await asyncio.gather(*acks)

    await asyncio.gather(*(one(c, m) for c, m in zip(clients, messages, strict=True)))
    return time.perf_counter() - started


async def paced(
    rate: float,
    send: Callable[[int], None],
    stop: asyncio.Event,
    tick: float = 0.01,
) -> int:
    """Call `send(i)` `rate` times a second (in bursts every `tick`) until `stop` is set; returns how many."""
    sent = 0
    started = time.perf_counter()
    while not stop.is_set():
        due = int((time.perf_counter() - started) * rate)
        while sent < due:
            send(sent)
            sent += 1
        await asyncio.sleep(tick)
    return sent
