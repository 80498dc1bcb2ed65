"""Finding glyphs in a rendered image where a layout says text is, and telling real glyphs from tofu.

A font without a character draws its `.notdef` glyph instead: the same box for every missing
character. So, per line, each character's cell (from the font's own advances) must hold ink, and
cells of *different* characters must not all look the same.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from freshtap.media import TextLine
from freshtap.media.wrap import is_cjk


@dataclass(frozen=True)
class LineCheck:
    text: str
    ink: float
    """Share of the line's box covered by ink."""
    empty_cells: list[str]
    """Characters whose cell has no ink at all."""
    distinct: int
    """Distinct bitmaps among the cells of distinct CJK characters."""
    cjk_chars: int
    """Distinct CJK characters on the line."""

    @property
    def glyphs_ok(self) -> bool:
        return self.ink > 0.02 and not self.empty_cells and (self.cjk_chars < 2 or self.distinct == self.cjk_chars)


def ink_mask(image: NDArray[np.uint8], line: TextLine) -> NDArray[np.bool_]:
    box = line.box
    region = image[box.y:box.bottom, box.x:box.right].astype(np.int32)
    background = np.median(region.reshape(-1, 3), axis=0)
    colour = np.array(line.color)
    # ink: pixels much closer to the text colour than the background is
    mask: NDArray[np.bool_] = np.abs(region - colour).sum(axis=2) < np.abs(background - colour).sum() * 0.5
    return mask


def check_line(image: NDArray[np.uint8], line: TextLine) -> LineCheck:
    mask = ink_mask(image, line)
    cells: dict[str, bytes] = {}
    empty = []
    for index, char in enumerate(line.text):
        if char.isspace():
            continue
        left = round(line.font.getlength(line.text[:index]))
        right = round(line.font.getlength(line.text[:index + 1]))
        cell = mask[:, left:right]
        if not cell.any():
            empty.append(char)
        if is_cjk(char) and char.isalpha():
            cells[char] = np.packbits(cell).tobytes()
    return LineCheck(line.text, float(mask.mean()), empty, len(set(cells.values())), len(cells))
