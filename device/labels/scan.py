"""`freshtap device scan`: read the labels in image files and report them in the contract's shape.

Each path gives one entry, in order: `{"image": PATH, "labels": [LABEL, ...]}`. A file that cannot
be read or is not an image does not stop the scan: its entry gets `"labels": []` and an extra
`"error"` string saying why, so the CLI can print every entry and exit non-zero if any has one.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import NotRequired, TypedDict

import cv2
import numpy as np

from .decoder import LabelDecoder
from .model import LabelJson
from .reader import read_labels

__all__ = ["ScanEntry", "scan_files"]


class ScanEntry(TypedDict):
    """One image's result, as `freshtap device scan --json` prints it."""

    image: str
    labels: list[LabelJson]
    error: NotRequired[str]
    """Present only when the file could not be read as an image."""


def _scan_one(path: str | os.PathLike[str], decoder: LabelDecoder | None) -> ScanEntry:
    name = os.fspath(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return {"image": name, "labels": [], "error": f"cannot read file: {exc.strerror or exc}"}
    # imdecode rather than imread: it reports nothing on stderr and handles any path the OS does
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR) if data else None
    if image is None:
        return {"image": name, "labels": [], "error": "not an image OpenCV can decode"}
    reads = read_labels(np.asarray(image, dtype=np.uint8), decoder)
    return {"image": name, "labels": [read.to_json() for read in reads]}


def scan_files(
    paths: Sequence[str | os.PathLike[str]], decoder: LabelDecoder | None = None
) -> list[ScanEntry]:
    """One entry per path, in order; `image` is the path as given."""
    return [_scan_one(path, decoder) for path in paths]
