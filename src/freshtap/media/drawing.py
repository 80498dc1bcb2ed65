"""Drawing on OpenCV canvases: backgrounds and shapes with OpenCV, text with Pillow.

A canvas is an H x W x 3 BGR `uint8` numpy array, as OpenCV uses. OpenCV lays out and draws the
shapes; Pillow draws the text (OpenCV's Hershey fonts have no Chinese glyphs). Pillow draws
straight onto the BGR array by giving it colours in the same BGR order, so no colour conversion
is needed. Text is laid out first (`layout_text`, positions and boxes known before drawing, which
tests use to find where glyphs must be) and drawn in one pass (`draw_text`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from .wrap import wrap_text

__all__ = ["BGR", "Box", "TextLine", "draw_text", "layout_text", "rounded_rect", "vertical_gradient"]

BGR = tuple[int, int, int]
Canvas = NDArray[np.uint8]


@dataclass(frozen=True)
class Box:
    """A rectangle in pixels: left, top, width, height."""

    x: int
    y: int
    w: int
    h: int

    @property
    def right(self) -> int:
        return self.x + self.w

    @property
    def bottom(self) -> int:
        return self.y + self.h


@dataclass(frozen=True)
class TextLine:
    """One line of text, where it goes, and how it is drawn."""

    text: str
    box: Box
    font: ImageFont.FreeTypeFont
    color: BGR


def vertical_gradient(width: int, height: int, top: BGR, bottom: BGR) -> Canvas:
    """A canvas fading from `top` to `bottom`."""
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    colors = (1.0 - ramp) * np.array(top, np.float32) + ramp * np.array(bottom, np.float32)
    return np.ascontiguousarray(
        np.broadcast_to(np.rint(colors).astype(np.uint8)[:, None, :], (height, width, 3))
    )


def rounded_rect(canvas: Canvas, box: Box, radius: int, color: BGR) -> None:
    """A filled rectangle with rounded corners, drawn in place."""
    r = max(0, min(radius, box.w // 2, box.h // 2))
    x0, y0, x1, y1 = box.x, box.y, box.right - 1, box.bottom - 1
    cv2.rectangle(canvas, (x0 + r, y0), (x1 - r, y1), color, -1, cv2.LINE_AA)
    cv2.rectangle(canvas, (x0, y0 + r), (x1, y1 - r), color, -1, cv2.LINE_AA)
    for cx, cy in ((x0 + r, y0 + r), (x1 - r, y0 + r), (x0 + r, y1 - r), (x1 - r, y1 - r)):
        cv2.circle(canvas, (cx, cy), r, color, -1, cv2.LINE_AA)


def layout_text(
    text: str,
    font: ImageFont.FreeTypeFont,
    color: BGR,
    *,
    x: int,
    y: int,
    max_width: int,
    line_spacing: float = 1.35,
    max_lines: int | None = None,
    align: str = "left",
) -> list[TextLine]:
    """`text` wrapped to `max_width` and placed line by line from (`x`, `y`).

    With `max_lines`, what does not fit ends the last line with an ellipsis.
    """
    lines = wrap_text(text, font.getlength, max_width)
    if max_lines is not None and len(lines) > max_lines:
        kept = lines[:max_lines]
        last = kept[-1]
        while last and font.getlength(last + "…") > max_width:
            last = last[:-1]
        kept[-1] = last + "…"
        lines = kept
    ascent, descent = font.getmetrics()
    step = round((ascent + descent) * line_spacing)
    placed = []
    for index, line in enumerate(lines):
        width = round(font.getlength(line))
        left = x + (max_width - width) // 2 if align == "center" else x
        placed.append(TextLine(line, Box(left, y + index * step, width, ascent + descent), font, color))
    return placed


def draw_text(canvas: Canvas, lines: Iterable[TextLine]) -> Canvas:
    """A copy of `canvas` with `lines` drawn on it (Pillow, anti-aliased)."""
    image = Image.fromarray(canvas)
    draw = ImageDraw.Draw(image)
    for line in lines:
        if line.text:
            draw.text((line.box.x, line.box.y), line.text, font=line.font, fill=line.color)
    return np.asarray(image, dtype=np.uint8).copy()
