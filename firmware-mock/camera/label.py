"""The front of one package as the camera would see it square-on: body colour, label, code, text."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from .package import Package
from .symbols import QUIET_ZONE_MODULES, module_matrix

__all__ = ["render_front"]

_TEXT_ROWS = 3
_TEXT_ROW_PX = 11


def _text_lines(package: Package) -> list[str]:
    lines = [package.name[:22]]
    if package.expiry is not None:
        word = "USE BY" if package.expiry_kind == "expiry" else "BEST BEFORE"
        lines.append(f"{word} {package.expiry:%d.%m.%y}")
    if package.batch is not None:
        lines.append(f"LOT {package.batch}")
    return lines


def _occlude(front: NDArray[np.uint8], box: tuple[int, int, int, int], fraction: float,
             rng: np.random.Generator) -> None:
    """Hide about `fraction` of the code box behind a blot at a random place over it (in place)."""
    x, y, size_x, size_y = box
    side_x = max(1, round(size_x * np.sqrt(fraction) * rng.uniform(0.7, 1.3)))
    side_y = max(1, round(size_x * size_y * fraction / side_x))
    left = x + int(rng.integers(0, max(1, size_x - side_x + 1)))
    top = y + int(rng.integers(0, max(1, size_y - side_y + 1)))
    colour = tuple(int(c) for c in rng.integers(20, 230, size=3))
    cv2.rectangle(front, (left, top), (left + side_x - 1, top + side_y - 1), colour, -1)


def render_front(package: Package, width: int, height: int, rng: np.random.Generator,
                 occlusion: float = 0.0) -> NDArray[np.uint8]:
    """A `height`x`width` BGR patch: package body with a white label bearing the code and its text."""
    body = tuple(int(c) for c in rng.integers(30, 230, size=3))
    front = np.empty((height, width, 3), dtype=np.uint8)
    front[:] = body

    modules = module_matrix(package)
    quiet = QUIET_ZONE_MODULES[package.code]
    span_x = modules.shape[1] + 2 * quiet
    span_y = modules.shape[0] + 2 * quiet
    text_px = _TEXT_ROWS * _TEXT_ROW_PX + 4
    module_px = max(2, min(6, (width - 12) // span_x, (height - text_px - 8) // span_y))

    label_w = min(width - 8, max(span_x * module_px, 150))
    label_h = span_y * module_px + text_px
    left = (width - label_w) // 2
    top = max(4, (height - label_h) // 2 + int(rng.integers(-6, 7)))
    front[top:top + label_h, left:left + label_w] = (244, 246, 242)

    code = np.where(modules, 25, 244).astype(np.uint8)
    code = np.repeat(np.repeat(code, module_px, axis=0), module_px, axis=1)
    code_x = left + (label_w - span_x * module_px) // 2 + quiet * module_px
    code_y = top + quiet * module_px
    front[code_y:code_y + code.shape[0], code_x:code_x + code.shape[1]] = code[:, :, None]

    for row, line in enumerate(_text_lines(package)):
        baseline = top + span_y * module_px + 2 + (row + 1) * _TEXT_ROW_PX
        cv2.putText(front, line, (left + 6, baseline), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (40, 40, 40), 1,
                    cv2.LINE_AA)

    if occlusion > 0:
        fraction = float(rng.uniform(0.0, occlusion))
        _occlude(front, (code_x, code_y, code.shape[1], code.shape[0]), fraction, rng)
    return front
