"""The seam between finding codes in pixels and understanding them: `LabelDecoder`.

A decoder finds 2-D codes in an image and returns their raw text; `interpret` (gs1.py) turns that
text into a `LabelRead` or refuses it. `ZxingDecoder` is the real adapter; `FixedDecoder` is the
test double for code that needs label reads without images.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

__all__ = ["DecodedSymbol", "FixedDecoder", "Image", "LabelDecoder"]

Image = NDArray[np.uint8]
"""An 8-bit image: H x W grey, or H x W x 3 BGR (OpenCV's order)."""


@dataclass(frozen=True)
class DecodedSymbol:
    """The content of one code as a scanner reports it."""

    text: str
    """The decoded data; for GS1 symbologies, element strings with `\\x1d` (GS) for FNC1 separators."""
    symbology_identifier: str
    """The ISO/IEC 15424 identifier, e.g. `]Q1` (QR), `]Q3` (GS1 QR), `]d2` (GS1 DataMatrix)."""


class LabelDecoder(Protocol):
    """Finds and decodes every QR code and DataMatrix in an image."""

    def decode(self, image: Image) -> Sequence[DecodedSymbol]: ...


@dataclass(frozen=True)
class FixedDecoder:
    """A decoder that 'sees' the same symbols in every image."""

    symbols: Sequence[DecodedSymbol] = ()

    def decode(self, image: Image) -> Sequence[DecodedSymbol]:
        return list(self.symbols)
