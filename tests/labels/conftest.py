"""Fixtures for the label lane: the clean and the degraded frame sets, made once per session."""

from __future__ import annotations

import pytest

from freshtap.firmware_mock.camera import Degradation

from .frames import Frame, make_frames


@pytest.fixture(scope="session")
def clean_frames() -> list[Frame]:
    return make_frames(1, Degradation())


@pytest.fixture(scope="session")
def degraded_frames() -> list[Frame]:
    """Soft focus, sensor grain and packages turned away from the camera."""
    return make_frames(2, Degradation(blur=1.0, noise=8.0, perspective=0.15))
