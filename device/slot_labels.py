"""Which label stands in which slot: a compartment's camera frame cut along its slot grid and read.

The firmware describes each compartment's grid (shelves x columns); its camera frame shows that
grid evenly divided, slot (shelf, column) in the cell `[column * W / C, (column + 1) * W / C)` x
`[shelf * H / S, (shelf + 1) * H / S)`. Each cell is read on its own with `read_labels`; a cell
with nothing readable is read again enlarged twice (small, soft codes decode better bigger). A
cell whose reads disagree is left out: a wrong label is worse than none.
"""

from __future__ import annotations

from collections.abc import Collection

import cv2
import numpy as np

from .labels import LabelDecoder, LabelRead, read_labels
from .tracker import Label

__all__ = ["FrameError", "read_slot_labels"]


class FrameError(ValueError):
    """The frame is not an image this reader can decode."""


def _label(read: LabelRead) -> Label:
    return Label(gtin=read.gtin, label_expiry=read.label_expiry, expiry_kind=read.expiry_kind, batch=read.batch)


def read_slot_labels(
    image_bytes: bytes,
    shelves: int,
    columns: int,
    decoder: LabelDecoder | None = None,
    slots: Collection[int] | None = None,
) -> dict[int, Label]:
    """Slot number (shelf * columns + column) -> the label read there, for the slots where one was.

    `slots` limits the reading to those cells (None: every cell).
    """
    if shelves < 1 or columns < 1:
        raise ValueError("a grid has at least one shelf and one column")
    image = cv2.imdecode(np.frombuffer(image_bytes, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise FrameError("the frame is not an image OpenCV can decode")
    frame = np.asarray(image, dtype=np.uint8)
    height, width = frame.shape[:2]
    found: dict[int, Label] = {}
    for shelf in range(shelves):
        for column in range(columns):
            if slots is not None and shelf * columns + column not in slots:
                continue
            cell = frame[
                shelf * height // shelves : (shelf + 1) * height // shelves,
                column * width // columns : (column + 1) * width // columns,
            ]
            reads = read_labels(cell, decoder)
            if not reads:
                bigger = np.asarray(cv2.resize(cell, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC), dtype=np.uint8)
                reads = read_labels(bigger, decoder)
            labels = {_label(read) for read in reads}
            if len(labels) == 1:
                found[shelf * columns + column] = labels.pop()
    return found
