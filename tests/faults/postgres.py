"""A private PostgreSQL cluster on a free port, in a temporary directory, that a test may restart or crash.

The machine's shared PostgreSQL must not be disturbed, so fault tests that take the database away
run their own: `initdb` into a fresh directory, `pg_ctl start` on a free loopback port with the
socket in that directory. PostgreSQL refuses to run as root; under root the cluster runs as the
`postgres` system user (`runuser`). `stop(mode="immediate")` is a crash (no checkpoint; the next
start replays the WAL); `mode="fast"` is a clean shutdown.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = ["PrivateCluster", "private_cluster_unavailable"]


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _run_as() -> str | None:
    """The user to run PostgreSQL as: ourselves, or `postgres` when we are root."""
    if os.getuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "<none>"
    return "postgres"


def private_cluster_unavailable() -> str | None:
    """Why a private cluster cannot run here, or None when it can."""
    if _bin_dir() is None:
        return "initdb/pg_ctl are not installed (apt-get install postgresql)"
    if _run_as() == "<none>":
        return "running as root and there is no `postgres` user to run a private cluster as"
    if os.getuid() == 0 and shutil.which("runuser") is None:
        return "running as root without `runuser` to drop to the postgres user"
    return None


class PrivateCluster:
    def __init__(self, port: int) -> None:
        bin_dir = _bin_dir()
        assert bin_dir is not None
        self._bin = bin_dir
        self._user = _run_as()
        self.port = port
        # Not under pytest's tmp_path: that is private to root, and the server runs as `postgres`.
        self.root = Path(tempfile.mkdtemp(prefix="freshtap-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self._listen = "127.0.0.1"
        if self._user is not None:
            record = pwd.getpwnam(self._user)
            os.chown(self.root, record.pw_uid, record.pw_gid)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        command = [str(self._bin / args[0]), *args[1:]]
        if self._user is not None:
            command = ["runuser", "-u", self._user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed: {done.stderr[-2000:]}\n{self.log_tail()}")
        return done

    def log_tail(self) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-2000:]
        except OSError:
            return ""

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")

    def allow(self, cidr: str) -> None:
        """Let clients from `cidr` in (trust, like the loopback lines initdb writes)."""
        with (self.data / "pg_hba.conf").open("a", encoding="utf-8") as hba:
            hba.write(f"host all all {cidr} trust\n")

    def start(self, listen: str = "127.0.0.1") -> None:
        self._listen = listen
        options = f"-p {self.port} -k {self.root} -c listen_addresses={listen} -c fsync=on"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start(self._listen)

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def destroy(self) -> None:
        if self.running():
            with contextlib.suppress(RuntimeError):
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
