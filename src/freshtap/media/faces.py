"""The face safeguard: anything face-like in a camera frame is blurred before it goes into a video.

Frames show the fridge's interior, so faces should never be there; this is the safety net for a
person leaning into the camera's view. Detection is OpenCV's trained frontal-face Haar cascade,
evaluated by `cascade.detect` (OpenCV 5's wheel no longer ships `CascadeClassifier`; see that
module), on a copy scaled to at most `max_side` pixels. Settings lean towards blurring too much:
fewer neighbours than OpenCV's default are enough, and each hit is widened by a quarter before it
is pixelated and blurred beyond recognition.

Known limits (docs/media.md): a frontal-face model misses faces in profile, upside down or
heavily occluded, and faces smaller than about `24 * side / max_side` pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from .cascade import detect, load_cascade
from .drawing import Box
from .errors import MediaError

__all__ = ["FaceCheck", "blur_faces", "find_faces"]


@dataclass(frozen=True)
class FaceCheck:
    """A frame after the safeguard, and where it found faces (in the frame's pixels)."""

    image: NDArray[np.uint8]
    faces: tuple[Box, ...]


def find_faces(
    image: NDArray[np.uint8], *, max_side: int = 480, min_neighbors: int = 2, scale_factor: float = 1.1
) -> list[Box]:
    """Face-like regions in a BGR (or grey) image, in its own pixel coordinates."""
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or min(image.shape[:2]) < 24:
        raise MediaError("find_faces wants a uint8 BGR or grey image at least 24 pixels on each side")
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    height, width = gray.shape
    ratio = min(1.0, max_side / max(height, width))
    small = gray if ratio == 1.0 else cv2.resize(gray, (round(width * ratio), round(height * ratio)),
                                                  interpolation=cv2.INTER_AREA)
    hits = detect(load_cascade(), np.asarray(small, dtype=np.uint8), scale_factor=scale_factor,
                  min_neighbors=min_neighbors)
    return [Box(round(b.x / ratio), round(b.y / ratio), round(b.w / ratio), round(b.h / ratio)) for b in hits]


def _obscure(region: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Pixelate to an 8x8 mosaic, then blur: no features survive."""
    h, w = region.shape[:2]
    mosaic = cv2.resize(region, (8, 8), interpolation=cv2.INTER_AREA)
    coarse = cv2.resize(mosaic, (w, h), interpolation=cv2.INTER_NEAREST)
    sigma = max(h, w) / 12
    return np.asarray(cv2.GaussianBlur(coarse, (0, 0), sigma), dtype=np.uint8)


def blur_faces(image: NDArray[np.uint8], *, max_side: int = 480) -> FaceCheck:
    """A copy of `image` with every face-like region (widened by 25%) obscured."""
    faces = find_faces(image, max_side=max_side)
    out = image.copy()
    height, width = image.shape[:2]
    for box in faces:
        grow_x, grow_y = box.w // 8, box.h // 8
        x0, y0 = max(0, box.x - grow_x), max(0, box.y - grow_y)
        x1, y1 = min(width, box.right + grow_x), min(height, box.bottom + grow_y)
        out[y0:y1, x0:x1] = _obscure(out[y0:y1, x0:x1])
    return FaceCheck(out, tuple(faces))
