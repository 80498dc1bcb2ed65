"""Reading every GS1 label in a camera frame: decode the codes, keep only those that pass GS1 checks."""

from __future__ import annotations

from .decoder import Image, LabelDecoder
from .gs1 import interpret
from .model import LabelRead
from .zxing_decoder import ZxingDecoder

__all__ = ["read_labels"]

_DEFAULT_DECODER = ZxingDecoder()


def read_labels(image: Image, decoder: LabelDecoder | None = None) -> list[LabelRead]:
    """The labels readable in `image` (H x W grey or H x W x 3 BGR, uint8), in the decoder's order.

    Codes that are not GS1 data, or whose GTIN check digit or date is wrong, are left out: a bad
    code is a miss, never a guess. Two packages with identical labels give two equal reads.
    """
    reads = []
    for symbol in (decoder or _DEFAULT_DECODER).decode(image):
        read = interpret(symbol)
        if read is not None:
            reads.append(read)
    return reads
