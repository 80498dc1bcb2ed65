"""Review videos made on the fridge from its own camera frames, uploaded only once the owner approved.

Privacy rule (issue 9): camera frames never leave the fridge except inside a video the owner
approved. So:

- `FrameRing` keeps the last few captures (the encoded frame as the camera sent it, when, which
  compartment, which GTINs its labels showed) **in memory only**: never written to disk, never
  published, gone on restart.
- On a `review_draft` notice, `ReviewVideos` picks the frames around the reviewed product's
  restock (the last captures without it, then those with it), renders the video locally with
  `freshtap.media.video.render_video` on its own worker thread (seconds of CPU; never on the
  device's worker), and keeps the result in memory.
- Only `approved(draft_id)` (the owner said yes, on the door screen or in the app) sends it, with
  `VideoUploader` (`PUT /api/v1/review-drafts/{draft_id}/video`, `video/webm` or `video/mp4`, as
  the fridge). `skipped(draft_id)` drops it. Nothing else ever sends a frame.

A notice carries `draft_id`, and may carry `gtin`, `product_name` and the card texts (`offer`,
`delivery`, `restock`); what it lacks falls back to neutral bilingual texts and, without a GTIN,
to the most recent captures.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

import cv2
import httpx
import numpy as np
from numpy.typing import NDArray

from freshtap.contract import NoticeMessage
from freshtap.media import MediaError, RenderedVideo, VideoSpec, render_video

__all__ = [
    "Capture",
    "FrameRing",
    "HttpVideoUploader",
    "ReviewRequest",
    "ReviewVideos",
    "UploadError",
    "VideoUploader",
]

log = logging.getLogger(__name__)

VideoFormat = Literal["webm", "mp4"]
_CONTENT_TYPE: dict[VideoFormat, str] = {"webm": "video/webm", "mp4": "video/mp4"}
_MAX_SIDE_FRAMES = 3  # camera frames per side (before / after the restock) in one video


@dataclass(frozen=True)
class Capture:
    """One camera frame as the fridge captured it."""

    at: datetime
    compartment: str
    image: bytes = field(repr=False)
    """Encoded as the camera sent it (PNG or JPEG)."""
    gtins: frozenset[str] = frozenset()
    """GTINs the label reader found in it."""


class FrameRing:
    """The last `capacity` captures, in memory only. Thread-safe."""

    def __init__(self, capacity: int = 24) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._items: deque[Capture] = deque(maxlen=capacity)
        self._lock = threading.Lock()

    def add(self, capture: Capture) -> None:
        with self._lock:
            self._items.append(capture)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def snapshot(self) -> list[Capture]:
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def around(self, gtin: str | None, per_side: int = _MAX_SIDE_FRAMES) -> tuple[list[Capture], list[Capture]]:
        """Captures from before `gtin` appeared and from after, oldest first (at most `per_side` each).

        "After" starts at the first capture showing `gtin` following one without it (the restock);
        "before" are the captures of that compartment just before it. Without a GTIN, or when it
        never shows, the most recent captures are all "after".
        """
        items = self.snapshot()
        if gtin is not None:
            for index in range(len(items) - 1, -1, -1):
                here = items[index]
                if gtin not in here.gtins:
                    continue
                earlier = [c for c in items[:index] if c.compartment == here.compartment]
                if earlier and gtin in earlier[-1].gtins:
                    continue  # not the first sighting: keep looking back
                after = [c for c in items[index:] if c.compartment == here.compartment and gtin in c.gtins]
                return earlier[-per_side:], after[:per_side]
        return [], items[-per_side:]


@dataclass(frozen=True)
class ReviewRequest:
    """What a video is wanted for: a review draft, and what its cards say."""

    draft_id: str
    gtin: str | None = None
    product_name: str = "冰箱里的好东西 · From our fridge"
    offer: str = "快用完了，一键补货 · Running low: reordered in one tap"  # noqa: RUF001
    delivery: str = "已送达 · Delivered"
    restock: str = "冰箱看到了新的一件 · Back in the fridge"
    disclosure: str | None = None

    @classmethod
    def from_notice(cls, body: Mapping[str, Any]) -> ReviewRequest | None:
        """The request a `review_draft` notice body asks for (None for another kind or no draft id)."""
        if body.get("kind") != "review_draft" or not isinstance(body.get("draft_id"), str):
            return None
        fields: dict[str, Any] = {"draft_id": body["draft_id"]}
        for key, source in (("gtin", "gtin"), ("product_name", "product_name"), ("product_name", "name"),
                            ("offer", "offer"), ("delivery", "delivery"), ("restock", "restock"),
                            ("disclosure", "disclosure")):
            value = body.get(source)
            if isinstance(value, str) and value.strip() and key not in fields:
                fields[key] = value.strip()[:200]
        return cls(**fields)


class UploadError(RuntimeError):
    """The server did not take the video."""


class VideoUploader(Protocol):
    def upload(self, draft_id: str, data: bytes, content_type: str) -> None:
        """Send an approved video; `UploadError` if the server did not take it."""
        ...


class HttpVideoUploader:
    """`PUT {base_url}/api/v1/review-drafts/{draft_id}/video` with the fridge's bearer credential.

    A 5xx answer or a network error is tried again (`attempts` in all, backing off); a 4xx is final.
    """

    def __init__(self, base_url: str, token: str, *, attempts: int = 3, backoff_s: float = 0.5,
                 timeout_s: float = 60.0, transport: httpx.BaseTransport | None = None) -> None:
        self._base = base_url.rstrip("/")
        self._token = token
        self._attempts = max(1, attempts)
        self._backoff = backoff_s
        self._timeout = timeout_s
        self._transport = transport

    def upload(self, draft_id: str, data: bytes, content_type: str) -> None:
        url = f"{self._base}/api/v1/review-drafts/{draft_id}/video"
        headers = {"Authorization": f"Bearer {self._token}", "Content-Type": content_type}
        last = ""
        with httpx.Client(timeout=self._timeout, transport=self._transport) as client:
            for attempt in range(self._attempts):
                if attempt:
                    time.sleep(self._backoff * 2 ** (attempt - 1))
                try:
                    answer = client.put(url, content=data, headers=headers)
                except httpx.HTTPError as exc:
                    last = f"{type(exc).__name__}: {exc}"
                    continue
                if answer.is_success:
                    return
                last = f"HTTP {answer.status_code}: {answer.text[:300]}"
                if answer.status_code < 500:
                    break
        raise UploadError(f"the video of draft {draft_id} was not uploaded ({last})")


def _decode(capture: Capture) -> NDArray[np.uint8] | None:
    image = cv2.imdecode(np.frombuffer(capture.image, dtype=np.uint8), cv2.IMREAD_COLOR)
    return None if image is None else np.asarray(image, dtype=np.uint8)


@dataclass
class _Job:
    request: ReviewRequest
    done: threading.Event = field(default_factory=threading.Event)
    video: RenderedVideo | None = None
    error: str | None = None
    uploaded: bool = False


class ReviewVideos:
    """Renders review videos from the `FrameRing` on request; uploads one only after approval.

    `start()`/`stop()` run the one render thread. Hooks: `on_frame` (give it to `FridgeDevice`),
    `on_notice` (give it the notices), `approved` / `skipped` (from wherever the owner decides).
    """

    def __init__(
        self,
        uploader: VideoUploader,
        *,
        ring: FrameRing | None = None,
        prefer: VideoFormat = "webm",
        renderer: Callable[[VideoSpec], RenderedVideo] = render_video,
        duration_s: float = 10.0,
        keep: int = 8,
    ) -> None:
        self.ring = ring or FrameRing()
        self._uploader = uploader
        self._prefer: VideoFormat = prefer
        self._render = renderer
        self._duration = duration_s
        self._keep = keep
        self._jobs: dict[str, _Job] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._worker: threading.Thread | None = None

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        if self._worker is None:
            self._worker = threading.Thread(target=self._run, name="review-videos", daemon=True)
            self._worker.start()

    def stop(self, timeout: float = 30.0) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            self._queue.put(None)
            worker.join(timeout)

    # ---- hooks -------------------------------------------------------------------------------

    def on_frame(self, compartment: str, image: bytes, gtins: Iterable[str], at: datetime) -> None:
        """A frame the device captured (runs on the device's worker: only stores a reference)."""
        self.ring.add(Capture(at, compartment, image, frozenset(gtins)))

    def on_notice(self, notice: NoticeMessage | Mapping[str, Any]) -> None:
        """A notice (or its body); a `review_draft` one starts a render."""
        body = notice.body.model_dump() if isinstance(notice, NoticeMessage) else notice
        request = ReviewRequest.from_notice(body)
        if request is not None:
            self.request(request)

    def request(self, request: ReviewRequest) -> None:
        with self._lock:
            if request.draft_id in self._jobs:
                return
            job = _Job(request)
            self._jobs[request.draft_id] = job
            while len(self._jobs) > self._keep:  # the oldest undecided videos go first
                oldest = next(iter(self._jobs))
                self._jobs.pop(oldest)
        self._queue.put(job)

    def approved(self, draft_id: str, timeout: float = 120.0) -> bool:
        """The owner approved `draft_id`: upload its video (waiting for the render). True once sent."""
        with self._lock:
            job = self._jobs.get(draft_id)
        if job is None:
            log.warning("no video was made for review draft %s", draft_id)
            return False
        if not job.done.wait(timeout) or job.video is None:
            log.warning("review draft %s has no video to upload: %s", draft_id, job.error or "still rendering")
            return False
        if job.uploaded:
            return True
        data = job.video.webm if self._prefer == "webm" else job.video.mp4
        self._uploader.upload(draft_id, data, _CONTENT_TYPE[self._prefer])
        job.uploaded = True
        return True

    def skipped(self, draft_id: str) -> None:
        """The owner skipped `draft_id`: its video is dropped, unsent."""
        with self._lock:
            self._jobs.pop(draft_id, None)

    def video(self, draft_id: str, timeout: float = 0.0) -> RenderedVideo | None:
        """The rendered video of `draft_id` (for the door screen to preview locally), if ready."""
        with self._lock:
            job = self._jobs.get(draft_id)
        if job is None or not job.done.wait(timeout):
            return None
        return job.video

    # ---- rendering ---------------------------------------------------------------------------

    def spec_for(self, request: ReviewRequest) -> VideoSpec:
        before, after = self.ring.around(request.gtin)
        frames = [image for image in map(_decode, [*before, *after]) if image is not None]
        return VideoSpec(
            product_name=request.product_name,
            offer=request.offer,
            delivery=request.delivery,
            restock=request.restock,
            frames=tuple(frames),
            before=min(len(before), len(frames)),
            disclosure=request.disclosure,
            duration_s=self._duration,
        )

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            try:
                job.video = self._render(self.spec_for(job.request))
            except (MediaError, ValueError) as exc:
                job.error = str(exc)
                log.warning("review video for draft %s not made: %s", job.request.draft_id, exc)
            except Exception as exc:
                job.error = f"{type(exc).__name__}: {exc}"
                log.exception("review video for draft %s failed", job.request.draft_id)
            finally:
                job.done.set()
