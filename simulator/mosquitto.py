"""A throwaway Mosquitto broker on a free local port, for tests and local fleet runs.

Plain and anonymous (`allow_anonymous true`, no ACL): it checks the device and simulator against
a real MQTT 3.1.1 broker, not the project's authenticated one. The broker writes its log to
stderr; a reader thread keeps the last lines (for failure messages) and `start()` returns once
the broker reports it is running — no sleeping and polling.
"""

from __future__ import annotations

import contextlib
import queue
import shutil
import socket
import subprocess
import threading
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

__all__ = ["MosquittoBroker", "MosquittoError", "find_mosquitto"]

_KNOWN_PATHS = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto")
_HOST = "127.0.0.1"


class MosquittoError(RuntimeError):
    """The broker binary is missing or the broker did not come up."""


def find_mosquitto() -> str | None:
    """The path of the `mosquitto` binary, or None when it is not installed."""
    found = shutil.which("mosquitto")
    if found:
        return found
    for candidate in _KNOWN_PATHS:
        if Path(candidate).is_file():
            return candidate
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_HOST, 0))
        return int(sock.getsockname()[1])


class MosquittoBroker:
    """One `mosquitto` process listening on 127.0.0.1 at a free port; files live in `workdir`."""

    def __init__(self, workdir: Path, *, binary: str | None = None, extra_config: Sequence[str] = ()) -> None:
        self._workdir = Path(workdir)
        self._binary = binary
        self._extra_config = tuple(extra_config)
        self._process: subprocess.Popen[str] | None = None
        self._port = 0
        self._log: deque[str] = deque(maxlen=5000)

    @property
    def host(self) -> str:
        return _HOST

    @property
    def port(self) -> int:
        if not self._port:
            raise MosquittoError("broker is not started")
        return self._port

    @property
    def url(self) -> str:
        return f"mqtt://{_HOST}:{self.port}"

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(list(self._log)[-lines:])

    def start(self, timeout: float = 10.0, attempts: int = 3) -> None:
        """Start on a free port; retried on a new port if another process took it meanwhile."""
        binary = self._binary or find_mosquitto()
        if binary is None:
            raise MosquittoError("mosquitto is not installed")
        self._workdir.mkdir(parents=True, exist_ok=True)
        for _ in range(attempts):
            if self._try_start(binary, _free_port(), timeout):
                return
        raise MosquittoError(f"mosquitto did not start:\n{self.log_tail()}")

    def stop(self, timeout: float = 5.0) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
        self._port = 0

    def __enter__(self) -> MosquittoBroker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _try_start(self, binary: str, port: int, timeout: float) -> bool:
        conf = self._workdir / "mosquitto.conf"
        lines = [
            f"listener {port} {_HOST}",
            "allow_anonymous true",
            "persistence false",
            "log_dest stderr",  # stderr is unbuffered; stdout is block-buffered into a pipe
            "log_timestamp false",
            "max_queued_messages 10000",
            *self._extra_config,
        ]
        conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
        process = subprocess.Popen(  # noqa: S603 - our own binary path and config file
            [binary, "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            cwd=self._workdir,
        )
        ready: queue.Queue[bool] = queue.Queue()
        threading.Thread(
            target=self._read_log, args=(process, ready), name=f"mosquitto-log-{port}", daemon=True
        ).start()
        try:
            started = ready.get(timeout=timeout)
        except queue.Empty:
            started = False
        if started:
            self._process = process
            self._port = port
            return True
        process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout)
        return False

    def _read_log(self, process: subprocess.Popen[str], ready: queue.Queue[bool]) -> None:
        assert process.stderr is not None
        announced = False
        for line in process.stderr:
            self._log.append(line.rstrip())
            if not announced and " running" in line and "mosquitto version" in line:
                announced = True
                ready.put(True)
        if not announced:
            ready.put(False)  # the process ended before it was running
