"""The fridge's `seq`: strictly growing, durable across restarts and crashes, never reused."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from freshtap.device.seqstore import SeqStore, SeqStoreError


def take(path: Path, n: int, block: int = 8) -> list[int]:
    with SeqStore(path, block=block) as store:
        return [store.next() for _ in range(n)]


def test_values_start_at_one_and_grow(tmp_path: Path) -> None:
    assert take(tmp_path / "seq", 5) == [1, 2, 3, 4, 5]


def test_restart_continues_above_every_value_handed_out(tmp_path: Path) -> None:
    path = tmp_path / "seq"
    runs = [take(path, n, block=4) for n in (3, 4, 5, 1, 9)]
    flat = [v for run in runs for v in run]
    assert flat == sorted(flat)
    assert len(set(flat)) == len(flat)


def test_block_of_one_has_no_gaps_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "seq"
    assert take(path, 3, block=1) + take(path, 2, block=1) == [1, 2, 3, 4, 5]


def test_crash_without_stop_never_reuses_a_value(tmp_path: Path) -> None:
    path = tmp_path / "seq"
    # A process hands out values and dies without stop(): no clean shutdown, no final write.
    script = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from freshtap.device.seqstore import SeqStore\n"
        "s = SeqStore(Path(sys.argv[1]), block=10)\n"
        "s.start()\n"
        "print(','.join(str(s.next()) for _ in range(13)), flush=True)\n"
        "os._exit(9)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=30, check=False
    )
    assert out.returncode == 9, out.stderr
    before = [int(v) for v in out.stdout.strip().split(",")]
    after = take(path, 3, block=10)
    assert after[0] > max(before)
    assert after == sorted(after)


def test_no_temp_files_are_left_behind(tmp_path: Path) -> None:
    take(tmp_path / "seq", 50, block=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seq", "seq.lock"]


def test_threads_never_get_the_same_value(tmp_path: Path) -> None:
    store = SeqStore(tmp_path / "seq", block=5)
    store.start()
    got: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        values = [store.next() for _ in range(200)]
        with lock:
            got.extend(values)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    store.stop()
    assert len(got) == 800
    assert len(set(got)) == 800


def test_two_stores_cannot_share_a_directory(tmp_path: Path) -> None:
    with SeqStore(tmp_path / "seq"), pytest.raises(SeqStoreError, match="in use"):
        SeqStore(tmp_path / "seq").start()


@pytest.mark.parametrize("content", ["", "abc", "-5", "12x", "0"])
def test_a_corrupt_file_is_an_error_not_a_restart(tmp_path: Path, content: str) -> None:
    (tmp_path / "seq").write_text(content)
    with pytest.raises(SeqStoreError):
        SeqStore(tmp_path / "seq").start()
    # ...and the failed start released its lock.
    (tmp_path / "seq").write_text("7\n")
    assert take(tmp_path / "seq", 1) == [7]


def test_next_before_start_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SeqStoreError, match="not started"):
        SeqStore(tmp_path / "seq").next()


def test_constructor_touches_nothing(tmp_path: Path) -> None:
    SeqStore(tmp_path / "deep" / "seq")
    assert not (tmp_path / "deep").exists()
