"""Is an uploaded review video what it claims to be? Read with PyAV (FFmpeg), never trusted by its header.

A fridge uploads its review video as `video/webm` (VP8/VP9/AV1 in WebM) or `video/mp4` (H.264/HEVC
in MP4). `probe_video` opens the bytes in memory, checks that the container is the one the content
type names, that it has a video stream of an allowed codec and size, decodes its first frame and
measures the duration from the packets themselves (a truncated file is short, whatever its header says). Anything
else raises `VideoRejected` with a sentence saying why, which the route answers with 422.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction

import av

__all__ = ["VIDEO_TYPES", "VideoFacts", "VideoRejected", "probe_video"]

VIDEO_TYPES: dict[str, tuple[str, str, frozenset[str]]] = {
    # content type: (media kind, the FFmpeg demuxer's name must contain, allowed codecs)
    "video/webm": ("video_webm", "webm", frozenset({"vp8", "vp9", "av1"})),
    "video/mp4": ("video_mp4", "mp4", frozenset({"h264", "hevc"})),
}
SIZE = (720, 1280)
MIN_SECONDS, MAX_SECONDS = 8.0, 15.0
_SLACK = 0.25  # seconds: encoders round the last frame's end


class VideoRejected(ValueError):
    """The upload is not a review video this server takes."""


@dataclass(frozen=True)
class VideoFacts:
    kind: str
    codec: str
    width: int
    height: int
    duration_s: float


def _duration(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float:
    """How long the video really lasts: the end of its last packet (a header can claim anything)."""
    end, start = 0, None
    for packet in container.demux(stream):
        if packet.pts is None:
            continue
        start = packet.pts if start is None else min(start, packet.pts)
        end = max(end, packet.pts + (packet.duration or 0))
    base = stream.time_base or Fraction(1, 1000)
    return float((end - (start or 0)) * base)


def probe_video(data: bytes, content_type: str) -> VideoFacts:
    """What `data` is, or `VideoRejected`: the container, codec, 720x1280 and 8-15 s are checked."""
    if content_type not in VIDEO_TYPES:
        raise VideoRejected(f"{content_type} is not a review video type; send video/webm or video/mp4")
    kind, demuxer, codecs = VIDEO_TYPES[content_type]
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if demuxer not in container.format.name.split(","):
                raise VideoRejected(f"the file is {container.format.long_name}, not {content_type}")
            if not container.streams.video:
                raise VideoRejected("the file has no video stream")
            stream = container.streams.video[0]
            codec = stream.codec_context.name
            if codec not in codecs:
                raise VideoRejected(f"{codec} video is not taken in {content_type} (use {', '.join(sorted(codecs))})")
            width, height = stream.codec_context.width, stream.codec_context.height
            if (width, height) != SIZE:
                raise VideoRejected(f"the video is {width}x{height}; review videos are {SIZE[0]}x{SIZE[1]}")
            if next(container.decode(stream), None) is None:
                raise VideoRejected("no frame of the video could be decoded")
            container.seek(0)
            duration = _duration(container, stream)
    except VideoRejected:
        raise
    except (av.FFmpegError, ValueError, EOFError, IndexError) as exc:
        raise VideoRejected(f"the file could not be read as {content_type}: {exc}") from None
    if not MIN_SECONDS - _SLACK <= duration <= MAX_SECONDS + _SLACK:
        raise VideoRejected(f"the video lasts {duration:.1f} s; review videos last {MIN_SECONDS:g}-{MAX_SECONDS:g} s")
    return VideoFacts(kind=kind, codec=codec, width=width, height=height, duration_s=round(duration, 2))
