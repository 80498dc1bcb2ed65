"""`freshtap device run` as a real child process, for tests that kill it (`kill -9`) and start it again.

The device writes `status.json` in its state directory after every committed look inside the
fridge and every telemetry message; `wait_status` polls it (the file is replaced atomically).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

FRESHTAP = str(Path(sys.executable).with_name("freshtap"))


class DeviceProcess:
    def __init__(self, args: Sequence[str], state_dir: Path, log_path: Path) -> None:
        self._args = list(args)
        self.state_dir = state_dir
        self._log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FRESHTAP_")}
        log = self._log_path.open("ab")
        self._proc = subprocess.Popen(
            [FRESHTAP, "device", "run", *self._args], stdout=log, stderr=subprocess.STDOUT, env=env
        )
        log.close()
        self.starts += 1

    def kill(self) -> None:
        """`kill -9`: no goodbye, no flush, no cleanup."""
        assert self._proc is not None
        os.kill(self._proc.pid, signal.SIGKILL)
        self._proc.wait(timeout=10)
        assert self._proc.returncode == -signal.SIGKILL

    def stop(self) -> int:
        """SIGTERM, as a supervisor would; the exit code."""
        if self._proc is None or self._proc.poll() is not None:
            return self._proc.returncode if self._proc is not None else 0
        self._proc.send_signal(signal.SIGTERM)
        try:
            return self._proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=10)
            raise

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def status(self) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads((self.state_dir / "status.json").read_text())
        except (OSError, ValueError):
            return None
        if self._proc is not None and data.get("pid") != self._proc.pid:
            return None  # written by an earlier process
        return data

    def wait_status(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            status = self.status()
            if status is not None and predicate(status):
                return status
            if not self.alive():
                raise AssertionError(f"the device process exited: see {self._log_path}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"device status not reached within {timeout}s; last: {status}\n{self.log_tail()}")
            time.sleep(0.05)

    def caught_up(self, cycle: int, timeout: float = 30.0) -> dict[str, Any]:
        """Wait until the device has committed a look inside made after door cycle `cycle` closed."""
        return self.wait_status(lambda s: s["checked_cycle"] >= cycle and not s["check_pending"], timeout)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self._log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
