"""`scan_files`: image files in, the contract's `device scan --json` shape out."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from freshtap.device.labels import scan_files
from freshtap.firmware_mock.camera import Degradation, render_frame, sample_packages

from .frames import TODAY
from .truth import expected_read

LABEL_KEYS = {"gtin", "label_expiry", "expiry_kind", "batch"}


def test_scan_files_gives_the_contract_shape_per_image(tmp_path: Path) -> None:
    packages = sample_packages(21, 12, today=TODAY)
    first, second = tmp_path / "shelf-1.png", tmp_path / "empty.png"
    assert cv2.imwrite(str(first), render_frame(packages, 21, Degradation(noise=4)))
    assert cv2.imwrite(str(second), render_frame([], 22))

    entries = scan_files([first, str(second)])

    assert json.loads(json.dumps(entries)) == entries
    assert [set(e) for e in entries] == [{"image", "labels"}] * 2
    assert [e["image"] for e in entries] == [str(first), str(second)]
    assert entries[1]["labels"] == []
    for label in entries[0]["labels"]:
        assert set(label) == LABEL_KEYS
    expected = sorted(
        json.dumps(r.to_json(), sort_keys=True) for r in map(expected_read, packages) if r is not None
    )
    assert sorted(json.dumps(label, sort_keys=True) for label in entries[0]["labels"]) == expected
    assert any(label["expiry_kind"] == "best_before" for label in entries[0]["labels"])
    dates = [label["label_expiry"] for label in entries[0]["labels"]]
    assert all(d is None or len(d) == 10 for d in dates)


def test_unreadable_files_get_an_error_entry_and_do_not_stop_the_scan(tmp_path: Path) -> None:
    not_an_image = tmp_path / "notes.png"
    not_an_image.write_text("not a picture")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    good = tmp_path / "ok.png"
    cv2.imwrite(str(good), np.full((50, 50, 3), 255, dtype=np.uint8))
    missing = tmp_path / "missing.png"

    entries = scan_files([missing, not_an_image, empty, tmp_path, good])

    assert [e["image"] for e in entries] == [str(p) for p in (missing, not_an_image, empty, tmp_path, good)]
    for entry in entries[:4]:
        assert entry["labels"] == []
        assert entry.get("error")
    assert "No such file" in entries[0]["error"]
    assert "not an image" in entries[1]["error"]
    assert entries[4] == {"image": str(good), "labels": []}
