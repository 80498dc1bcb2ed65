"""A 1280x720 frame of the fridge interior: shelves of packages, each showing its label.

Rendering is deterministic for a given seed: the same packages, seed and degradation always give
the same pixels. `render_frame` fills three shelves row by row, left to right, in the order given;
`render_grid` draws a compartment's fixed grid of slots (shelves x columns), each package centred
in its own cell, so a reader that knows the grid can tell which slot a label is in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

from .degradation import Degradation
from .label import render_front
from .package import Package

__all__ = [
    "FRAME_HEIGHT",
    "FRAME_WIDTH",
    "MAX_GRID_COLUMNS",
    "MAX_GRID_SHELVES",
    "MAX_PACKAGES",
    "render_frame",
    "render_grid",
]

FRAME_WIDTH = 1280
FRAME_HEIGHT = 720
SHELVES = 3
MAX_PACKAGES = 18
MAX_GRID_SHELVES = 4
MAX_GRID_COLUMNS = 8
_SHELF_EDGE_PX = 10


def _background(rng: np.random.Generator, shelves: int = SHELVES) -> NDArray[np.float32]:
    """Back wall with a vertical light gradient, glass shelf edges, and a vignette."""
    wall = np.array(rng.uniform(200, 228, size=3), dtype=np.float32)
    ramp = np.linspace(1.04, 0.92, FRAME_HEIGHT, dtype=np.float32)[:, None, None]
    frame = np.broadcast_to(wall * ramp, (FRAME_HEIGHT, FRAME_WIDTH, 3)).copy()
    shelf_h = FRAME_HEIGHT // shelves
    for shelf in range(1, shelves + 1):
        bottom = shelf * shelf_h
        frame[bottom - _SHELF_EDGE_PX:bottom] = (150, 160, 150)
        frame[bottom - _SHELF_EDGE_PX:bottom - _SHELF_EDGE_PX + 2] = (235, 240, 235)
    return frame


def _vignette(rng: np.random.Generator) -> NDArray[np.float32]:
    ys, xs = np.mgrid[0:FRAME_HEIGHT, 0:FRAME_WIDTH].astype(np.float32)
    half_w, half_h = FRAME_WIDTH / 2, FRAME_HEIGHT / 2
    r2 = ((xs - half_w) / half_w) ** 2 + ((ys - half_h) / half_h) ** 2
    gain: NDArray[np.float32] = float(rng.uniform(0.9, 1.05)) * (1.0 - 0.12 * r2)
    return gain[:, :, None]


def _destination(centre: tuple[float, float], width: int, height: int, degrade: Degradation,
                 rng: np.random.Generator) -> NDArray[np.float32]:
    """Where the front's corners land: tilted in-plane, then keystoned as if turned away."""
    half_w, half_h = width / 2, height / 2
    yaw = float(rng.uniform(-degrade.perspective, degrade.perspective))
    pitch = float(rng.uniform(-degrade.perspective, degrade.perspective))
    squeeze = 1.0 - abs(yaw) / 2
    # corners TL, TR, BR, BL; a yawed front has one side taller than the other, a pitched one
    # a wider top or bottom
    corners = np.array([
        (-half_w * squeeze * (1 - pitch), -half_h * (1 - yaw)),
        (half_w * squeeze * (1 - pitch), -half_h * (1 + yaw)),
        (half_w * squeeze * (1 + pitch), half_h * (1 + yaw)),
        (-half_w * squeeze * (1 + pitch), half_h * (1 - yaw)),
    ], dtype=np.float32)
    angle = math.radians(float(rng.uniform(-degrade.rotation, degrade.rotation)))
    cos, sin = math.cos(angle), math.sin(angle)
    rot = np.array([[cos, -sin], [sin, cos]], dtype=np.float32)
    return (corners @ rot.T + np.array(centre, dtype=np.float32)).astype(np.float32)


def _composite(frame: NDArray[np.float32], front: NDArray[np.uint8], quad: NDArray[np.float32]) -> None:
    """Warp `front` onto `quad` in `frame` (in place), anti-aliased at its edges."""
    h, w = front.shape[:2]
    x0, y0 = np.floor(quad.min(axis=0)).astype(int)
    x1, y1 = np.ceil(quad.max(axis=0)).astype(int)
    cx0, cy0 = max(x0, 0), max(y0, 0)
    cx1, cy1 = min(x1, FRAME_WIDTH), min(y1, FRAME_HEIGHT)
    if cx0 >= cx1 or cy0 >= cy1:
        return
    src = np.array([(0, 0), (w, 0), (w, h), (0, h)], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(src, quad - np.array([cx0, cy0], dtype=np.float32))
    size = (cx1 - cx0, cy1 - cy0)
    warped = cv2.warpPerspective(front.astype(np.float32), matrix, size, flags=cv2.INTER_LINEAR)
    alpha = cv2.warpPerspective(np.ones((h, w), dtype=np.float32), matrix, size, flags=cv2.INTER_LINEAR)
    roi = frame[cy0:cy1, cx0:cx1]
    roi *= 1.0 - alpha[:, :, None]
    roi += warped * alpha[:, :, None]


def render_frame(packages: Sequence[Package], seed: int | np.random.Generator,
                 degrade: Degradation | None = None) -> NDArray[np.uint8]:
    """A 720x1280x3 BGR uint8 frame showing `packages` on the shelves, degraded as asked.

    `seed` (or a generator made from one) decides every random choice, so a frame can be made
    again from its seed. At most `MAX_PACKAGES` packages fit.
    """
    if len(packages) > MAX_PACKAGES:
        raise ValueError(f"at most {MAX_PACKAGES} packages fit in a frame, got {len(packages)}")
    degrade = degrade or Degradation()
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)

    frame = _background(rng)
    per_shelf = max(1, math.ceil(len(packages) / SHELVES))
    slot_w = FRAME_WIDTH / per_shelf
    shelf_h = FRAME_HEIGHT // SHELVES
    for index, package in enumerate(packages):
        shelf, column = divmod(index, per_shelf)
        width = int(min(slot_w * rng.uniform(0.66, 0.76), 280))
        height = int(rng.uniform(0.9, 0.96) * (shelf_h - _SHELF_EDGE_PX))
        front = render_front(package, width, height, rng, degrade.occlusion)
        slack = (slot_w - width) / 2 * 0.4
        centre = (
            (column + 0.5) * slot_w + float(rng.uniform(-slack, slack)),
            (shelf + 1) * shelf_h - _SHELF_EDGE_PX - height / 2 - 2,
        )
        _composite(frame, front, _destination(centre, width, height, degrade, rng))

    return _finish(frame, degrade, rng)


def _finish(frame: NDArray[np.float32], degrade: Degradation, rng: np.random.Generator) -> NDArray[np.uint8]:
    frame *= _vignette(rng)
    if degrade.blur > 0:
        frame = np.asarray(cv2.GaussianBlur(frame, (0, 0), degrade.blur), dtype=np.float32)
    if degrade.noise > 0:
        frame += rng.normal(0.0, degrade.noise, size=frame.shape).astype(np.float32)
    return np.clip(np.rint(frame), 0, 255).astype(np.uint8)


def render_grid(grid: Sequence[Sequence[Package | None]], seed: int | np.random.Generator,
                degrade: Degradation | None = None) -> NDArray[np.uint8]:
    """A 720x1280x3 BGR frame of one compartment's slots: `grid[shelf][column]`, None for an empty slot.

    The frame is divided evenly: slot (shelf, column) of an S x C grid occupies columns
    `[column * 1280 / C, (column + 1) * 1280 / C)` and rows `[shelf * 720 / S, (shelf + 1) * 720 / S)`;
    its package stands on that cell's shelf edge, centred give or take a few pixels, and stays
    inside the cell unless rotation or perspective push a corner out. Every row has C entries.
    """
    shelves = len(grid)
    columns = len(grid[0]) if shelves else 0
    if not 1 <= shelves <= MAX_GRID_SHELVES or not 1 <= columns <= MAX_GRID_COLUMNS:
        raise ValueError(f"a grid is 1-{MAX_GRID_SHELVES} shelves of 1-{MAX_GRID_COLUMNS} columns")
    if any(len(row) != columns for row in grid):
        raise ValueError("every shelf of a grid has the same number of columns")
    degrade = degrade or Degradation()
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)

    frame = _background(rng, shelves)
    slot_w = FRAME_WIDTH / columns
    shelf_h = FRAME_HEIGHT // shelves
    for shelf, row in enumerate(grid):
        for column, package in enumerate(row):
            if package is None:
                continue
            width = int(min(slot_w * rng.uniform(0.66, 0.76), 280))
            height = int(rng.uniform(0.9, 0.96) * (shelf_h - _SHELF_EDGE_PX))
            front = render_front(package, width, height, rng, degrade.occlusion)
            slack = (slot_w - width) / 2 * 0.3
            centre = (
                (column + 0.5) * slot_w + float(rng.uniform(-slack, slack)),
                (shelf + 1) * shelf_h - _SHELF_EDGE_PX - height / 2 - 2,
            )
            _composite(frame, front, _destination(centre, width, height, degrade, rng))
    return _finish(frame, degrade, rng)
