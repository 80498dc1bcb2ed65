"""The face safeguard: a face-like region in a camera frame is found and obscured; fridge shelves are not.

What is tested, honestly: a *drawn* frontal face (tests/media/conftest.py), not photographs of
people; OpenCV's frontal-face cascade finds it, and our evaluator of that cascade agreed with
OpenCV 4.13's own `CascadeClassifier` on such images (boxes within a few pixels) when it was
written. The cascade data is checked against Debian's copy of OpenCV's XML when that is installed.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from freshtap.media import blur_faces, find_faces
from freshtap.media.cascade import CASCADE_FILE, cascade_from_xml, load_cascade

from .conftest import fridge_frames, synthetic_face

DEBIAN_XML = Path("/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml")


def with_face(size: int, x: int = 500, y: int = 100) -> np.ndarray:
    frame = fridge_frames(1)[0].copy()
    frame[y:y + size, x:x + size] = synthetic_face(size)
    return frame


@pytest.mark.parametrize("size", [200, 260, 320])
def test_a_face_in_a_fridge_frame_is_found_where_it_is(size: int) -> None:
    faces = find_faces(with_face(size))
    assert any(abs(f.x - 500) < size * 0.2 and abs(f.y - 100) < size * 0.2 and 0.7 < f.w / size < 1.3
               for f in faces), faces


def test_the_face_is_obscured_and_the_rest_of_the_frame_kept() -> None:
    frame = with_face(260)
    checked = blur_faces(frame)
    assert checked.faces
    face = checked.faces[0]
    before = frame[face.y:face.bottom, face.x:face.right]
    after = checked.image[face.y:face.bottom, face.x:face.right]
    # the eyes, brows and mouth are gone: hardly any edges left where they were
    def edges(img: np.ndarray) -> float:
        return float(cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var())

    assert edges(after) < edges(before) / 20
    assert find_faces(checked.image) == []
    outside = np.ones(frame.shape[:2], bool)
    outside[max(0, face.y - face.h // 8):face.bottom + face.h // 8, max(0, face.x - face.w // 8):face.right + face.w // 8] = False
    assert (checked.image[outside] == frame[outside]).all()


def test_fridge_shelves_hold_no_faces() -> None:
    for frame in fridge_frames(2):
        checked = blur_faces(frame)
        assert checked.faces == ()
        assert (checked.image == frame).all()


def test_the_shipped_cascade_is_opencvs_frontal_face_model() -> None:
    cascade = load_cascade()
    assert (cascade.width, cascade.height, len(cascade.stages)) == (24, 24, 25)
    assert sum(len(s.feature) for s in cascade.stages) == 2913
    assert "Intel License Agreement" in cascade.license
    if not DEBIAN_XML.is_file():
        pytest.skip("Debian's opencv-data is not installed; the JSON was transcribed from it")
    original = cascade_from_xml(DEBIAN_XML.read_text())
    assert (original.rects == cascade.rects).all() and (original.weights == cascade.weights).all()
    for ours, theirs in zip(cascade.stages, original.stages, strict=True):
        assert ours.threshold == theirs.threshold
        assert (ours.split == theirs.split).all() and (ours.left == theirs.left).all()
    assert CASCADE_FILE.stat().st_size < 400_000
