"""The review video: 720x1280, 8-15 s, VP9 WebM and H.264 MP4 that decode back, scenes in order."""

from __future__ import annotations

import io
import itertools

import av
import numpy as np
import pytest

from freshtap.media import RenderedVideo, SpecError, VideoSpec, plan_scenes, render_video
from freshtap.media.video import video_frames

from .conftest import FULL_SPEC, fridge_frames, synthetic_face

SMALL = dict(product_name="牛奶", offer="一键补货", delivery="已送达", restock="已补货", size=(360, 640), fps=12,
             duration_s=8.0)


def probe(data: bytes) -> tuple[str, int, int, int, float]:
    """codec, width, height, frames decoded, container duration (s) — by decoding every frame."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        duration = (container.duration or 0) / av.time_base
        return stream.codec_context.name, stream.width, stream.height, frames, duration


def test_the_full_video_is_vertical_720p_and_8_to_15_seconds_in_both_formats(full_video: RenderedVideo) -> None:
    assert (full_video.width, full_video.height) == (720, 1280)
    assert 8.0 <= full_video.duration_s <= 15.0
    assert full_video.faces_blurred == 0
    webm = probe(full_video.webm)
    mp4 = probe(full_video.mp4)
    assert webm[:4] == ("vp9", 720, 1280, FULL_SPEC.frame_count)
    assert mp4[:4] == ("h264", 720, 1280, FULL_SPEC.frame_count)
    assert webm[4] == pytest.approx(8.0, abs=0.1)
    assert mp4[4] == pytest.approx(8.0, abs=0.1)
    assert full_video.webm[:4] == b"\x1a\x45\xdf\xa3"  # EBML: a Matroska/WebM file
    assert full_video.mp4[4:8] == b"ftyp"


def test_scenes_run_offer_before_delivery_after_restock_and_fill_the_duration() -> None:
    spec = VideoSpec(**SMALL, frames=fridge_frames(3))  # type: ignore[arg-type]
    scenes = plan_scenes(spec)
    assert [s.kind for s in scenes] == ["offer", "before", "before", "delivery", "after", "restock"]
    assert [s.frame for s in scenes if s.frame is not None] == [0, 1, 2]
    assert sum(s.length for s in scenes) == spec.frame_count == 96
    assert all(a.start + a.length == b.start for a, b in itertools.pairwise(scenes))
    assert all(s.length >= spec.fps // 2 for s in scenes)


def test_camera_frames_appear_in_the_video() -> None:
    """A frame scene shows the fridge frame (panned), not a title card."""
    frames = fridge_frames(2)
    spec = VideoSpec(**SMALL, frames=frames)  # type: ignore[arg-type]
    scenes = plan_scenes(spec)
    before = next(s for s in scenes if s.kind == "before")
    rendered = list(video_frames(spec))
    middle = rendered[before.start + before.length // 2]
    card = rendered[scenes[0].start + scenes[0].length // 2]
    # the fridge interior is busy (labels, codes); a card is mostly a smooth gradient
    def busy(img: np.ndarray) -> float:
        return float(np.abs(np.diff(img.astype(np.int16), axis=1)).mean())
    assert busy(middle) > 2 * busy(card)


def test_a_face_in_a_camera_frame_is_blurred_before_it_is_encoded() -> None:
    frame = fridge_frames(1)[0].copy()
    frame[100:360, 500:760] = synthetic_face(260)
    spec = VideoSpec(**SMALL, frames=(frame,))  # type: ignore[arg-type]
    video = render_video(spec)
    assert video.faces_blurred == 1


def test_a_video_without_camera_frames_is_cards_only() -> None:
    video = render_video(VideoSpec(**SMALL))  # type: ignore[arg-type]
    assert probe(video.webm)[:4] == ("vp9", 360, 640, 96)
    assert probe(video.mp4)[:4] == ("h264", 360, 640, 96)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"duration_s": 7.9}, "8-15 s"),
        ({"duration_s": 16.0}, "8-15 s"),
        ({"size": (720, 720)}, "9:16"),
        ({"fps": 5}, "fps"),
        ({"frames": (np.zeros((10, 10, 3), np.uint8),)}, "64x64"),
        ({"frames": tuple(np.zeros((80, 80, 3), np.uint8) for _ in range(13))}, "at most 12"),
        ({"product_name": ""}, "product name"),
    ],
)
def test_bad_specs_are_refused_clearly(changes: dict[str, object], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        VideoSpec(**{**SMALL, **changes})  # type: ignore[arg-type]
