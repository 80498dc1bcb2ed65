"""Fixtures for the media tests: camera frames from the emulated fridge, one full-size video (rendered
once per session: it is the slow part), and a synthetic face."""

# ruff: noqa: RUF001 - Chinese text and punctuation are what these tests are about

from __future__ import annotations

from datetime import date

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

from freshtap.firmware_mock.camera import render_grid, sample_packages
from freshtap.media import RenderedVideo, VideoSpec, render_video
from tests.device.conftest import mosquitto  # noqa: F401 - the device lane's real broker

TODAY = date(2026, 11, 23)


def fridge_frames(count: int) -> tuple[NDArray[np.uint8], ...]:
    """Frames as the emulated interior camera renders them: a 3x4 slot grid, slots filling up."""
    frames = []
    for seed in range(count):
        packages = sample_packages(100 + seed, 12, today=TODAY)
        grid = [[packages[r * 4 + c] if (r * 4 + c) % (seed + 2) else None for c in range(4)] for r in range(3)]
        frames.append(render_grid(grid, seed))
    return tuple(frames)


def synthetic_face(size: int) -> NDArray[np.uint8]:
    """A drawn frontal face (skin oval, brows, eyes, nose, mouth, hair), soft like a photo.

    OpenCV's frontal-face cascade (and OpenCV 4.13's own CascadeClassifier, checked when this
    was written) finds it at 100-300 pixels; it is a stand-in for a person, not a photograph.
    """
    img = np.full((size, size, 3), (200, 205, 200), np.uint8)
    centre = (size // 2, size // 2)
    cv2.ellipse(img, centre, (int(size * 0.36), int(size * 0.46)), 0, 0, 360, (150, 170, 210), -1, cv2.LINE_AA)
    cv2.ellipse(img, (size // 2, int(size * 0.12)), (int(size * 0.38), int(size * 0.16)), 0, 180, 360,
                (40, 50, 60), -1, cv2.LINE_AA)
    eye_y, eye_dx = int(size * 0.40), int(size * 0.17)
    for side in (-1, 1):
        x = size // 2 + side * eye_dx
        cv2.ellipse(img, (x, eye_y - int(size * 0.07)), (int(size * 0.09), int(size * 0.02)), 0, 0, 360,
                    (50, 60, 70), -1, cv2.LINE_AA)
        cv2.ellipse(img, (x, eye_y), (int(size * 0.08), int(size * 0.035)), 0, 0, 360, (245, 245, 245), -1,
                    cv2.LINE_AA)
        cv2.circle(img, (x, eye_y), int(size * 0.03), (40, 30, 30), -1, cv2.LINE_AA)
    cv2.line(img, (size // 2, eye_y), (size // 2 - int(size * 0.03), int(size * 0.58)), (110, 130, 170), 3,
             cv2.LINE_AA)
    cv2.ellipse(img, (size // 2, int(size * 0.60)), (int(size * 0.06), int(size * 0.02)), 0, 0, 360,
                (110, 125, 165), -1, cv2.LINE_AA)
    cv2.ellipse(img, (size // 2, int(size * 0.72)), (int(size * 0.13), int(size * 0.035)), 0, 0, 360,
                (70, 70, 150), -1, cv2.LINE_AA)
    return np.asarray(cv2.GaussianBlur(img, (0, 0), size / 120), dtype=np.uint8)


FULL_SPEC = VideoSpec(
    product_name="鲜牛奶 1 L · Whole milk",
    offer="还有 1 天到期 · 一键补货 ¥12.90",
    delivery="第二天上午送达",
    restock="冰箱看到了新的一瓶，已补货",
    frames=fridge_frames(2),
    disclosure="广告 · 分享可获奖励",
    duration_s=8.0,
)


@pytest.fixture(scope="session")
def full_video() -> RenderedVideo:
    """The one full-size video: 720x1280, 8 s at 24 fps, both formats."""
    return render_video(FULL_SPEC)
