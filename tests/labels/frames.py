"""Seeded frames from the emulated camera, made at test time (no images are committed)."""

from __future__ import annotations

from datetime import date

import numpy as np
from numpy.typing import NDArray

from freshtap.firmware_mock.camera import Degradation, Package, render_frame, sample_packages

TODAY = date(2026, 11, 23)
FRAMES_PER_CONDITION = 20
LABELS_PER_FRAME = 12

Frame = tuple[list[Package], NDArray[np.uint8]]


def make_frames(condition_seed: int, degrade: Degradation, count: int = FRAMES_PER_CONDITION) -> list[Frame]:
    """`count` frames of 12 random packages with both code kinds, from fixed seeds."""
    made = []
    for index in range(count):
        seed = condition_seed * 1000 + index
        packages = sample_packages(seed, LABELS_PER_FRAME, today=TODAY)
        made.append((packages, render_frame(packages, seed, degrade)))
    return made
