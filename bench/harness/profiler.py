"""Where a server process spends its time: py-spy samples of every thread, summed per function.

`py_spy_record(pid, seconds)` runs `py-spy record --format raw` against a running process (no
restart, no instrumentation) and `Profile.render()` lists the functions with the most samples on
top of the stack (self) and anywhere on it (total), as shares of all samples taken. Without
py-spy installed (`pip install py-spy`) it says so instead.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

__all__ = ["Profile", "py_spy_record"]


def _py_spy() -> str | None:
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


class Profile:
    def __init__(self, process: subprocess.Popen[bytes] | None, output: Path, error: str | None = None) -> None:
        self._process = process
        self._output = output
        self.error = error
        self.self_samples: Counter[str] = Counter()
        self.total_samples: Counter[str] = Counter()
        self.samples = 0

    def wait(self, timeout: float = 120.0) -> Profile:
        if self._process is not None:
            _, err = self._process.communicate(timeout=timeout)
            self._process = None
            if not self._output.exists():
                self.error = err.decode(errors="replace")[-500:] or "py-spy wrote nothing"
                return self
            self._read()
        return self

    def _read(self) -> None:
        # Raw (collapsed) format: "thread;frame;frame;... count", outermost frame first.
        for line in self._output.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            frames = [_short(f) for f in stack.split(";")[1:]]
            n = int(count)
            self.samples += n
            if frames:
                self.self_samples[frames[-1]] += n
            for frame in set(frames):
                self.total_samples[frame] += n
        self._output.unlink(missing_ok=True)

    def render(self, title: str, top: int = 15) -> str:
        if self.error:
            return f"{title}: no profile ({self.error.strip()})"
        if not self.samples:
            return f"{title}: no samples"
        lines = [f"{title}: {self.samples} samples (all threads, idle excluded)", "  self%  total%  function"]
        for frame, n in self.self_samples.most_common(top):
            share = 100 * n / self.samples
            total = 100 * self.total_samples[frame] / self.samples
            lines.append(f"  {share:5.1f}  {total:6.1f}  {frame}")
        lines.append("  freshtap's own functions by total%:")
        ours = [(f, n) for f, n in self.total_samples.most_common() if _is_freshtap(f)]
        for frame, n in ours[:top]:
            lines.append(f"         {100 * n / self.samples:6.1f}  {frame}")
        return "\n".join(lines)


def _is_freshtap(frame: str) -> bool:
    where = frame.partition(" (")[2]
    return any(part in where for part in ("server/", "device/", "simulator/", "freshtap/", "shelflife/"))


def _short(frame: str) -> str:
    # "handle (freshtap/server/ingest/service.py:83)" -> "handle (.../ingest/service.py)"
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = Path(path).parts
    return f"{name} ({'/'.join(parts[-3:])})" if parts else name


def py_spy_record(pid: int, seconds: float, *, background: bool = False, rate: int = 200) -> Profile:
    """Sample process `pid` for `seconds`; with `background`, return at once (call `wait()` later)."""
    binary = _py_spy()
    output = Path(tempfile.mkstemp(prefix="freshtap-pyspy-", suffix=".txt")[1])
    output.unlink()
    if binary is None:
        return Profile(None, output, error="py-spy is not installed (pip install py-spy)")
    process = subprocess.Popen(
        [binary, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))), "--rate", str(rate),
         "--format", "raw", "--output", str(output), "--nonblocking", "--threads"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    profile = Profile(process, output)
    return profile if background else profile.wait()
