"""The short vertical review video: the fridge's own frames, the offer, the delivery and the restock.

    spec = VideoSpec(product_name="鲜牛奶 1 L", offer="还有 1 天到期 · 一键补货 ¥12.90",
                     delivery="第二天上午送达", restock="冰箱看到了新的一瓶", frames=(before, after))
    video = render_video(spec)      # video.webm (VP9), video.mp4 (H.264), video.duration_s

720x1280 (9:16), 8-15 s (10 s by default), 24 fps. The scenes (`plan_scenes`): a title card for
the offer, the camera frames from before the delivery, a card for the delivery, the frames from
after it, a card for the restock; each camera frame slowly pans across the shelf in a vertical
window, with a short cross-fade between scenes. Text is drawn with a CJK font (Pillow), pictures
are composed with OpenCV, and both files are encoded in one pass with PyAV (FFmpeg): VP9 in WebM
for the door screen and browsers, H.264 in MP4 for platforms that want it (OpenCV's wheel has no
H.264 encoder).

Every camera frame first goes through the face safeguard (`faces.blur_faces`). This module reads
no clock and writes no file: frames in, bytes out.
"""

from __future__ import annotations

import io
import queue
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import cv2
import numpy as np
from numpy.typing import NDArray

from .drawing import BGR, Box, draw_text, layout_text, rounded_rect, vertical_gradient
from .errors import MediaError, SpecError
from .faces import blur_faces
from .fonts import cjk_font, find_cjk_font

__all__ = [
    "MAX_DURATION_S",
    "MIN_DURATION_S",
    "RenderedVideo",
    "Scene",
    "VideoSpec",
    "encode_video",
    "plan_scenes",
    "render_video",
    "video_frames",
]

MIN_DURATION_S = 8.0
MAX_DURATION_S = 15.0
_MAX_FRAMES = 12
_FADE_S = 0.3
_CARD_WEIGHT = {"offer": 1.1, "delivery": 0.9, "restock": 1.2}
_CARD_LABEL = {"offer": "提醒 · Offer", "delivery": "送达 · Delivered", "restock": "补货 · Restocked"}
_CARD_COLORS: dict[str, tuple[BGR, BGR]] = {
    "offer": ((214, 236, 250), (246, 250, 252)),
    "delivery": ((250, 232, 214), (252, 248, 244)),
    "restock": ((220, 244, 222), (246, 252, 246)),
}
_FRAME_CAPTION = {"before": "补货前 · Before", "after": "补货后 · After"}
_INK: BGR = (40, 38, 33)
_ACCENT: BGR = (120, 150, 20)

Image = NDArray[np.uint8]
SceneKind = Literal["offer", "delivery", "restock", "before", "after"]


@dataclass(frozen=True)
class VideoSpec:
    """What the video shows. `frames` are BGR camera frames in time order (any landscape size)."""

    product_name: str
    offer: str
    delivery: str
    restock: str
    frames: tuple[Image, ...] = field(default=(), compare=False)
    before: int | None = None
    """How many of `frames` come from before the delivery (default: the first half, rounded up)."""
    disclosure: str | None = None
    duration_s: float = 10.0
    fps: int = 24
    size: tuple[int, int] = (720, 1280)
    font: Path | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not MIN_DURATION_S <= self.duration_s <= MAX_DURATION_S:
            raise SpecError(f"a review video lasts {MIN_DURATION_S:g}-{MAX_DURATION_S:g} s, not {self.duration_s:g} s")
        if not 10 <= self.fps <= 60:
            raise SpecError(f"fps must be 10-60, got {self.fps}")
        width, height = self.size
        if width % 2 or height % 2 or not 180 <= width <= 1080 or abs(height * 9 - width * 16) > 16:
            raise SpecError(f"the video is 9:16 with an even width of 180-1080 pixels, got {width}x{height}")
        if not self.product_name.strip():
            raise SpecError("the video needs a product name")
        for name in ("product_name", "offer", "delivery", "restock"):
            if len(getattr(self, name)) > 200:
                raise SpecError(f"{name} is longer than 200 characters")
        if len(self.frames) > _MAX_FRAMES:
            raise SpecError(f"at most {_MAX_FRAMES} camera frames, got {len(self.frames)}")
        for frame in self.frames:
            if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3 or min(frame.shape[:2]) < 64:
                raise SpecError("camera frames are uint8 BGR images of at least 64x64 pixels")
        if self.before is not None and not 0 <= self.before <= len(self.frames):
            raise SpecError("before must be between 0 and the number of frames")

    @property
    def frame_count(self) -> int:
        return round(self.duration_s * self.fps)


@dataclass(frozen=True)
class Scene:
    kind: SceneKind
    start: int
    """First output frame of the scene."""
    length: int
    """Output frames in the scene."""
    frame: int | None = None
    """Which camera frame (for `before` / `after`)."""


@dataclass(frozen=True)
class RenderedVideo:
    webm: bytes
    """VP9 in WebM."""
    mp4: bytes
    """H.264 in MP4 (the index at the end of the file, as FFmpeg writes it without a second pass)."""
    duration_s: float
    width: int
    height: int
    fps: int
    faces_blurred: int
    """Face-like regions the safeguard obscured (expected: 0)."""


def plan_scenes(spec: VideoSpec) -> tuple[Scene, ...]:
    """The scenes in order, with whole output frames each, adding up to `spec.frame_count`."""
    before = spec.before if spec.before is not None else (len(spec.frames) + 1) // 2
    order: list[tuple[SceneKind, int | None, float]] = [("offer", None, _CARD_WEIGHT["offer"])]
    order += [("before", i, 1.0) for i in range(before)]
    order.append(("delivery", None, _CARD_WEIGHT["delivery"]))
    order += [("after", i, 1.0) for i in range(before, len(spec.frames))]
    order.append(("restock", None, _CARD_WEIGHT["restock"]))
    total = sum(weight for _, _, weight in order)
    scenes = []
    start = 0
    edge = 0.0
    for kind, frame, weight in order:
        edge += weight
        end = round(spec.frame_count * edge / total)
        scenes.append(Scene(kind, start, end - start, frame))
        start = end
    return tuple(scenes)


def _card(spec: VideoSpec, kind: SceneKind, font_path: Path, step: int, steps: int) -> Image:
    width, height = spec.size
    unit = width / 720
    top, bottom = _CARD_COLORS[kind]
    canvas = vertical_gradient(width, height, top, bottom)
    margin = round(56 * unit)
    body = {"offer": spec.offer, "delivery": spec.delivery, "restock": spec.restock}[kind]
    label = layout_text(f"{step}/{steps}  {_CARD_LABEL[kind]}", cjk_font(font_path, round(34 * unit)), _ACCENT,
                        x=margin, y=round(150 * unit), max_width=width - 2 * margin, max_lines=1)
    big = cjk_font(font_path, round(60 * unit))
    text = layout_text(body, big, _INK, x=margin, y=round(420 * unit), max_width=width - 2 * margin,
                       line_spacing=1.3, max_lines=5, align="center")
    name = layout_text(spec.product_name, cjk_font(font_path, round(40 * unit)), _INK, x=margin,
                       y=round(1010 * unit), max_width=width - 2 * margin, max_lines=2, align="center")
    cv2.rectangle(canvas, (margin, round(214 * unit)), (margin + round(96 * unit), round(222 * unit)), _ACCENT, -1)
    card = Box(margin // 2, round(960 * unit), width - margin, round(160 * unit))
    rounded_rect(canvas, card, round(24 * unit), (255, 255, 255))
    return draw_text(canvas, [*label, *text, *name])


def _caption_patch(text: str, font_path: Path, width: int, size: int) -> tuple[Image, Box]:
    """A dark rounded tag with white text, to paste over a camera frame."""
    font = cjk_font(font_path, size)
    lines = layout_text(text, font, (255, 255, 255), x=size // 2, y=size // 4, max_width=width - size, max_lines=1)
    box = Box(0, 0, lines[0].box.w + size, lines[0].box.h + size // 2)
    patch = np.zeros((box.h, box.w, 3), dtype=np.uint8)
    patch[:] = (30, 30, 30)
    return draw_text(patch, lines), box


def _vertical_window(frame: Image, size: tuple[int, int], progress: float) -> Image:
    """The 9:16 window of `frame` at `progress` (0..1) of a left-to-right pan, scaled to `size`."""
    height, width = frame.shape[:2]
    out_w, out_h = size
    window_w = min(width, round(height * out_w / out_h))
    window_h = min(height, round(window_w * out_h / out_w))
    x = round((width - window_w) * progress)
    y = (height - window_h) // 2
    crop = frame[y:y + window_h, x:x + window_w]
    return np.asarray(cv2.resize(crop, (out_w, out_h), interpolation=cv2.INTER_LINEAR), dtype=np.uint8)


def _paste(canvas: Image, patch: Image, x: int, y: int, alpha: float = 0.82) -> None:
    h, w = patch.shape[:2]
    region = canvas[y:y + h, x:x + w]
    cv2.addWeighted(patch[:region.shape[0], :region.shape[1]], alpha, region, 1 - alpha, 0, dst=region)


@dataclass
class _Prepared:
    cards: dict[str, Image]
    frames: list[Image]
    captions: dict[str, tuple[Image, Box]]
    disclosure: tuple[Image, Box] | None
    faces: int


def _prepare(spec: VideoSpec) -> _Prepared:
    font_path = find_cjk_font(spec.font)
    width, _ = spec.size
    unit = width / 720
    disclosure = None
    if spec.disclosure:
        disclosure = _caption_patch(spec.disclosure, font_path, width, round(26 * unit))
    cards = {}
    for i, kind in enumerate(("offer", "delivery", "restock")):
        card = _card(spec, kind, font_path, i + 1, 3)  # type: ignore[arg-type]
        if disclosure is not None:
            _paste_disclosure(card, disclosure)
        cards[kind] = card
    frames, faces = [], 0
    for frame in spec.frames:
        checked = blur_faces(frame)
        faces += len(checked.faces)
        frames.append(checked.image)
    captions = {kind: _caption_patch(text, font_path, width, round(34 * unit)) for kind, text in _FRAME_CAPTION.items()}
    return _Prepared(cards, frames, captions, disclosure, faces)


def _paste_disclosure(image: Image, disclosure: tuple[Image, Box]) -> None:
    patch, box = disclosure
    height, width = image.shape[:2]
    _paste(image, patch, (width - box.w) // 2, height - box.h - round(40 * width / 720), alpha=0.9)


def _scene_image(spec: VideoSpec, prepared: _Prepared, scene: Scene, index: int) -> Image:
    """The scene's picture at output frame `index` (a card is shared: callers must not draw on it)."""
    if scene.frame is None:
        return prepared.cards[scene.kind]
    progress = (index - scene.start) / max(1, scene.length - 1)
    image = _vertical_window(prepared.frames[scene.frame], spec.size, progress)
    patch, _ = prepared.captions[scene.kind]
    unit = spec.size[0] / 720
    _paste(image, patch, round(40 * unit), round(80 * unit))
    if prepared.disclosure is not None:
        _paste_disclosure(image, prepared.disclosure)
    return image


def video_frames(spec: VideoSpec, prepared: _Prepared | None = None) -> Iterator[Image]:
    """Every output frame of the video in order (BGR, `spec.size`; read-only: cards are shared)."""
    prepared = prepared or _prepare(spec)
    scenes = plan_scenes(spec)
    fade = max(1, round(_FADE_S * spec.fps))
    for number, scene in enumerate(scenes):
        for index in range(scene.start, scene.start + scene.length):
            image = _scene_image(spec, prepared, scene, index)
            into = index - scene.start
            if number > 0 and into < fade:
                previous = scenes[number - 1]
                last = _scene_image(spec, prepared, previous, previous.start + previous.length - 1)
                weight = (into + 1) / (fade + 1)
                image = np.asarray(cv2.addWeighted(image, weight, last, 1 - weight, 0), dtype=np.uint8)
            yield image


def _open(buffer: io.BytesIO, kind: Literal["webm", "mp4"], spec: VideoSpec) -> tuple[av.container.OutputContainer,
                                                                                      av.VideoStream]:
    width, height = spec.size
    if kind == "webm":
        container = av.open(buffer, mode="w", format="webm")
        stream = container.add_stream("libvpx-vp9", rate=spec.fps, options={
            "deadline": "realtime", "cpu-used": "8", "row-mt": "1", "threads": "2", "crf": "36", "b": "0",
            "lag-in-frames": "0",
        })
    else:
        # no `+faststart`: FFmpeg's second pass re-opens the output by name, which a buffer has not
        container = av.open(buffer, mode="w", format="mp4")
        stream = container.add_stream("libx264", rate=spec.fps, options={"preset": "superfast", "crf": "24"})
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.codec_context.time_base = Fraction(1, spec.fps)
    return container, stream


def _encode_one(spec: VideoSpec, kind: Literal["webm", "mp4"], frames: queue.Queue[av.VideoFrame | None],
                out: dict[str, bytes | BaseException]) -> None:
    buffer = io.BytesIO()
    try:
        container, stream = _open(buffer, kind, spec)
        try:
            while (frame := frames.get()) is not None:
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode(None):
                container.mux(packet)
        finally:
            container.close()
        out[kind] = buffer.getvalue()
    except BaseException as exc:  # handed to the caller's thread
        out[kind] = exc
        while frames.get() is not None:  # let the producer finish
            pass


def encode_video(spec: VideoSpec, source: Iterable[Image],
                 kinds: Sequence[Literal["webm", "mp4"]] = ("webm", "mp4")) -> dict[str, bytes]:
    """Encode BGR frames of `spec.size` at `spec.fps` into each of `kinds` at once, one encoder thread each
    (FFmpeg releases the GIL while it encodes)."""
    queues: dict[str, queue.Queue[av.VideoFrame | None]] = {kind: queue.Queue(maxsize=8) for kind in kinds}
    results: dict[str, bytes | BaseException] = {}
    workers = [threading.Thread(target=_encode_one, args=(spec, kind, queues[kind], results), daemon=True,
                                name=f"encode-{kind}") for kind in kinds]
    for worker in workers:
        worker.start()
    try:
        for number, image in enumerate(source):
            # OpenCV's BGR -> I420 is several times faster than FFmpeg's swscale here
            i420 = np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420), dtype=np.uint8)
            for kind in kinds:
                frame = av.VideoFrame.from_ndarray(i420, format="yuv420p")
                frame.pts = number
                frame.time_base = Fraction(1, spec.fps)
                queues[kind].put(frame)
    finally:
        for kind in kinds:
            queues[kind].put(None)
        for worker in workers:
            worker.join()
    encoded: dict[str, bytes] = {}
    for kind in kinds:
        result = results.get(kind)
        if isinstance(result, BaseException):
            raise MediaError(f"encoding the {kind} file failed: {result}") from result
        if result is None:  # pragma: no cover - a worker always reports
            raise MediaError(f"encoding the {kind} file produced nothing")
        encoded[kind] = result
    return encoded


def render_video(spec: VideoSpec) -> RenderedVideo:
    """Both files of the video for `spec` (`FontNotFound` without a CJK font)."""
    prepared = _prepare(spec)
    encoded = encode_video(spec, video_frames(spec, prepared))
    width, height = spec.size
    return RenderedVideo(
        webm=encoded["webm"],
        mp4=encoded["mp4"],
        duration_s=spec.frame_count / spec.fps,
        width=width,
        height=height,
        fps=spec.fps,
        faces_blurred=prepared.faces,
    )
