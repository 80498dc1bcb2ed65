"""A Mosquitto broker the fault tests can stop, kill and start again on the same port and files.

It runs with freshtap's own broker files (`write_mosquitto_files`: passwords, topic ACL, limits)
and keeps its persistence database in its directory, so what survives a restart is exactly what
Mosquitto itself saved. Its log (stderr) is read by a thread: `start` returns once Mosquitto says
it is running, and queue-overflow drops ("Outgoing messages are being dropped") are counted.
"""

from __future__ import annotations

import os
import pwd
import queue
import re
import signal
import subprocess
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from freshtap.server.broker.mosquitto import MosquittoAccount, mosquitto_password_hash, write_mosquitto_files

__all__ = ["BrokerSettings", "DurableBroker"]


@dataclass(frozen=True)
class BrokerSettings:
    """The persistence and queue settings under test (see docs/deployment.md)."""

    autosave_interval: int = 1
    autosave_on_changes: bool = True
    max_queued_messages: int = 100_000
    max_inflight_messages: int = 20

    def lines(self) -> list[str]:
        return [
            f"autosave_interval {self.autosave_interval}",
            f"autosave_on_changes {'true' if self.autosave_on_changes else 'false'}",
            f"max_queued_messages {self.max_queued_messages}",
            f"max_inflight_messages {self.max_inflight_messages}",
        ]


class DurableBroker:
    """One Mosquitto with persistence in `directory`, listening on 127.0.0.1:`port` across restarts."""

    def __init__(
        self,
        binary: str,
        directory: Path,
        port: int,
        *,
        server_username: str,
        server_password: str,
        fridges: dict[str, str],
        settings: BrokerSettings = BrokerSettings(),
    ) -> None:
        self.binary = binary
        self.directory = directory
        self.port = port
        self.settings = settings
        self.starts = 0
        self.dropped_lines = 0
        self._log: deque[str] = deque(maxlen=400)
        self._lines: list[str] = []
        self._process: subprocess.Popen[str] | None = None
        accounts = [
            MosquittoAccount(server_username, mosquitto_password_hash(server_password), "server", None),
            *(
                MosquittoAccount(fridge_id, mosquitto_password_hash(password), "fridge", fridge_id)
                for fridge_id, password in fridges.items()
            ),
        ]
        # Started as root, Mosquitto would switch to the `mosquitto` user, who cannot read a test's tmp dir.
        files = write_mosquitto_files(
            directory, accounts, "127.0.0.1", port, run_as_user=pwd.getpwuid(os.getuid()).pw_name
        )
        config = files.config.read_text(encoding="utf-8").splitlines()
        owned = ("autosave_interval", "autosave_on_changes", "max_queued_messages", "max_inflight_messages")
        config = [line for line in config if not line.startswith(owned)]
        # Global options must come before the first `listener` line.
        first_listener = next(i for i, line in enumerate(config) if line.startswith("listener "))
        # `information` adds the "running" line `start` waits for (and every connect and disconnect).
        config[first_listener:first_listener] = [*settings.lines(), "log_type information", ""]
        files.config.write_text("\n".join(config) + "\n", encoding="utf-8")
        self.config = files.config

    def add_listener(self, host: str) -> None:
        """Listen on `host` too (same port, same logins and ACL), e.g. a veth address; before `start`."""
        with self.config.open("a", encoding="utf-8") as config:
            config.write(f"\nlistener {self.port} {host}\nprotocol mqtt\n")

    def saw(self, pattern: str) -> bool:
        """Whether the broker has logged a line matching `pattern` (regex) since the first start."""
        regex = re.compile(pattern)
        return any(regex.search(line) for line in list(self._lines))

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(list(self._log)[-lines:])

    def start(self, timeout: float = 15.0) -> None:
        if self.running:
            raise RuntimeError("already running")
        process = subprocess.Popen(
            [self.binary, "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            cwd=self.directory,
        )
        ready: queue.Queue[bool] = queue.Queue()
        threading.Thread(target=self._read_log, args=(process, ready), name="mosquitto-log", daemon=True).start()
        try:
            started = ready.get(timeout=timeout)
        except queue.Empty:
            started = False
        if not started:
            process.kill()
            process.wait(10)
            raise RuntimeError(f"mosquitto did not start on port {self.port}:\n{self.log_tail()}")
        self._process = process
        self.starts += 1

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Send `sig` and wait for the process to end; returns its exit status."""
        process, self._process = self._process, None
        if process is None:
            return 0
        os.kill(process.pid, sig)
        return process.wait(timeout)

    def restart(self, sig: signal.Signals) -> None:
        self.stop(sig)
        self.start()

    @property
    def saved_bytes(self) -> int:
        database = self.directory / "mosquitto.db"
        return database.stat().st_size if database.exists() else 0

    def _read_log(self, process: subprocess.Popen[str], ready: queue.Queue[bool]) -> None:
        assert process.stderr is not None
        announced = False
        for line in process.stderr:
            self._log.append(line.rstrip())
            self._lines.append(line.rstrip())
            if "Outgoing messages are being dropped" in line:
                self.dropped_lines += 1
            if not announced and "mosquitto version" in line and " running" in line:
                announced = True
                ready.put(True)
        if not announced:
            ready.put(False)
