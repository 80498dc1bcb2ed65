"""The embedded MQTT broker: amqtt in its own thread and event loop, with freshtap's auth, ACL and limits.

`EmbeddedBroker` is a lifecycle component: the constructor does no work, `start()` returns once
the broker listens (bound explicitly to `host`; port 0 picks a free port, see `port`), `stop()`
once it has stopped. Logins go through an `Authenticator`; topics through `acl.py`; packets
over the size limit drop the connection; with `limits`, fridges are held to their publish
quota, looping or flooding clients are banned and sessions of clients long gone expire
(`gatekeeper.py`, `hardened.py`). `refusals` counts what each of these refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any, TypeVar

from amqtt.adapters import StreamWriterAdapter

from freshtap.contract import MAX_PAYLOAD_BYTES
from freshtap.server.broker.framing import FrameGuard, FrameViolation
from freshtap.server.broker.gatekeeper import Gatekeeper
from freshtap.server.broker.hardened import GuardedReader, HardenedBroker
from freshtap.server.broker.plugins import Authenticator, AuthPlugin, BrokerPolicy, TopicAclPlugin
from freshtap.settings import BrokerLimitSettings

__all__ = ["Authenticator", "EmbeddedBroker"]

logger = logging.getLogger(__name__)

_LISTENER = "default"
_T = TypeVar("_T")


class EmbeddedBroker:
    """An amqtt broker (MQTT 3.1.1) serving on `host:port` from a thread of its own.

    `max_payload` bounds a PUBLISH payload (a bigger one drops the connection); `connect_timeout`
    is how long a new socket may take to send its CONNECT; `max_queued` bounds the QoS 1
    messages kept per offline persistent session; `auth_workers` is how many logins may be
    checked at once (each runs the `Authenticator` on a worker thread). `on_refusal(reason,
    detail)` hears of every oversized or malformed stream the broker cut off, from a worker thread.

    `limits` (the settings' `broker_limits`) turns on publish quotas, connection rates, bans,
    the inflight bound and session expiry; its `max_queued_messages` replaces `max_queued`.
    `monotonic` is the clock they read (seconds); `sweep_interval` how often (real seconds)
    expired sessions and idle limit state are swept.
    """

    def __init__(
        self,
        host: str,
        port: int,
        authenticator: Authenticator,
        max_payload: int = MAX_PAYLOAD_BYTES,
        *,
        connect_timeout: float = 10.0,
        max_queued: int = 1000,
        auth_workers: int = 2,
        on_refusal: Callable[[str, str], None] | None = None,
        limits: BrokerLimitSettings | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sweep_interval: float = 1.0,
    ) -> None:
        if not host:
            raise ValueError("bind the broker to an explicit host, e.g. 127.0.0.1")
        if not 0 <= port <= 65535:
            raise ValueError(f"invalid port {port}")
        self._host = host
        self._requested_port = port
        self._authenticator = authenticator
        self._max_payload = max_payload
        self._connect_timeout = connect_timeout
        self._max_queued = max_queued if limits is None else limits.max_queued_messages
        self._limits = limits
        self._monotonic = monotonic
        self._sweep_interval = sweep_interval
        self._broker: HardenedBroker | None = None
        self._gate: Gatekeeper | None = None
        self._auth_workers = auth_workers
        self._on_refusal = on_refusal
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._bound_port: int | None = None
        self._policy: BrokerPolicy | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> None:
        """Start serving; return once the broker listens. Raises if it cannot within `timeout` s."""
        with self._lock:
            if self._thread is not None:
                raise RuntimeError("the embedded broker is already started")
            self._ready.clear()
            self._startup_error = None
            self._bound_port = None
            thread = threading.Thread(target=self._run, name="freshtap-broker", daemon=True)
            self._thread = thread
            thread.start()
        if not self._ready.wait(timeout):
            self.stop(timeout)
            raise TimeoutError(f"the embedded broker did not start within {timeout} s")
        if self._startup_error is not None:
            error = self._startup_error
            self.stop(timeout)
            where = f"{self._host}:{self._requested_port}"
            raise RuntimeError(f"the embedded broker could not start on {where}") from error

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and return once the broker's thread has ended. Does nothing if not started."""
        with self._lock:
            thread, loop, stopping = self._thread, self._loop, self._stopping
            if thread is None:
                return
            if loop is not None and stopping is not None and not loop.is_closed():
                # The loop may close between the check and the call.
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(stopping.set)
            thread.join(timeout)
            if thread.is_alive():
                raise TimeoutError(f"the embedded broker did not stop within {timeout} s")
            self._thread = None
            self._loop = None
            self._stopping = None

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- what it reports -------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        """The port the broker listens on (the free port picked when constructed with 0)."""
        if self._bound_port is None:
            raise RuntimeError("the embedded broker is not started")
        return self._bound_port

    @property
    def url(self) -> str:
        """`mqtt://host:port` for clients."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"mqtt://{host}:{self.port}"

    @property
    def refusals(self) -> dict[str, int]:
        """How often the broker refused, by kind (`plugins.COUNTERS`), since it was last started.

        A fresh dict each time, safe to read from any thread.
        """
        policy = self._policy
        return policy.counters() if policy is not None else {}

    @property
    def gatekeeper(self) -> Gatekeeper | None:
        """The limits and bans in force (None without `limits`); use it only through `call`."""
        return self._gate

    def session_count(self, timeout: float = 5.0) -> int:
        """How many sessions (connected or kept for an offline client) the broker holds."""

        async def count() -> int:
            assert self._broker is not None
            return len(self._broker.sessions)

        return self.call(count(), timeout)

    def expire_sessions(self, timeout: float = 5.0) -> int:
        """Sweep expired sessions now (the broker also does every `sweep_interval`); how many went."""

        async def sweep() -> int:
            assert self._broker is not None
            return await self._broker.expire_sessions()

        return self.call(sweep(), timeout)

    def call(self, coroutine: Coroutine[Any, Any, _T], timeout: float = 5.0) -> _T:
        """Run `coroutine` on the broker's event loop and return its result (from any other thread)."""
        loop = self._loop
        if loop is None or self._broker is None:
            coroutine.close()
            raise RuntimeError("the embedded broker is not started")
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout)

    # -- the broker's thread ---------------------------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to start(); the thread must not die silently
            if not self._ready.is_set():
                self._startup_error = exc
            else:
                logger.exception("the embedded broker failed")
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()
            self._ready.set()

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        executor = ThreadPoolExecutor(self._auth_workers, thread_name_prefix="freshtap-broker-auth")
        policy = BrokerPolicy(self._authenticator, executor, self._max_payload)
        self._policy = policy
        limits = self._limits
        gate = self._gate = Gatekeeper(limits, policy.count, self._monotonic) if limits is not None else None
        connections: set[asyncio.Task[Any]] = set()
        try:
            broker = HardenedBroker(
                self._broker_config(policy),
                policy=policy,
                connect_timeout=self._connect_timeout,
                max_queued=self._max_queued,
                gate=gate,
                max_inflight=limits.max_inflight_messages if limits is not None else 20,
                session_expiry=limits.session_expiry_seconds if limits is not None else None,
                monotonic=self._monotonic,
                sweep_interval=self._sweep_interval,
            )
            await broker.start()
            self._broker = broker
            server: asyncio.Server | None = None
            try:
                server = await asyncio.start_server(
                    functools.partial(self._on_connection, broker, policy, connections),
                    self._host,
                    self._requested_port,
                )
                self._bound_port = server.sockets[0].getsockname()[1]
                logger.info("embedded MQTT broker listening on %s:%s", self._host, self._bound_port)
                self._ready.set()
                await self._stopping.wait()
            finally:
                if server is not None:
                    server.close()
                try:
                    await broker.shutdown()
                finally:
                    # Sockets that never completed a CONNECT are not the broker's to close.
                    for task in list(connections):
                        task.cancel()
                    if connections:
                        await asyncio.wait(connections, timeout=5)
                    if server is not None:
                        await server.wait_closed()
        finally:
            self._broker = None
            executor.shutdown(wait=False, cancel_futures=True)

    def _broker_config(self, policy: BrokerPolicy) -> dict[str, Any]:
        # An "external" listener: this class owns the socket (bound to the host given, not
        # amqtt's 0.0.0.0 default) and hands each connection over with a size-checking reader.
        return {
            "listeners": {_LISTENER: {"type": "external", "bind": f"{self._host}:{self._requested_port}"}},
            # Giving `plugins` replaces amqtt's defaults: no anonymous login, no $SYS topics.
            "plugins": {
                _class_path(AuthPlugin): {"policy": policy},
                _class_path(TopicAclPlugin): {"policy": policy},
            },
        }

    async def _on_connection(
        self,
        broker: HardenedBroker,
        policy: BrokerPolicy,
        connections: set[asyncio.Task[Any]],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            connections.add(task)
        gate = self._gate
        if gate is not None:
            peer = writer.get_extra_info("peername")
            if gate.socket_refused(peer[0] if isinstance(peer, tuple) else None):
                # A banned or looping address: closed before a byte is read.
                writer.close()
                if task is not None:
                    connections.discard(task)
                return

        def refuse(violation: FrameViolation) -> None:
            policy.count(violation.reason)
            peer = writer.get_extra_info("peername")
            logger.warning("dropping connection from %s: %s", peer, violation)
            if self._on_refusal is not None:
                # Reported off the event loop: the receiver may write to a database.
                asyncio.get_running_loop().run_in_executor(
                    None, self._on_refusal, violation.reason, f"{violation.detail} (from {peer})"
                )

        guarded = GuardedReader(reader, FrameGuard(self._max_payload), refuse, writer.close)
        try:
            await broker.external_connected(guarded, StreamWriterAdapter(writer), _LISTENER)
        except asyncio.CancelledError:
            pass
        except Exception:
            logger.exception("connection from %s failed", writer.get_extra_info("peername"))
        finally:
            writer.close()
            if task is not None:
                connections.discard(task)


def _class_path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"
