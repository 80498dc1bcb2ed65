"""Review media: the poster (PNG) and the short vertical video (WebM + MP4), made from fridge data.

Part of the shared kernel: pure functions over plain data (no clock, no server, no device), so
the server renders posters and the device renders videos from its own camera frames, which never
leave the fridge except inside a video the owner approved. See docs/media.md.

    from freshtap.media import PosterSpec, VideoSpec, render_poster, render_video
"""

from freshtap.media.drawing import Box, TextLine
from freshtap.media.errors import FontNotFound, MediaError, SpecError
from freshtap.media.faces import FaceCheck, blur_faces, find_faces
from freshtap.media.fonts import find_cjk_font, font_candidates
from freshtap.media.poster import (
    POSTER_SIZES,
    PosterLayout,
    PosterSpec,
    compose_poster,
    layout_poster,
    qr_matrix,
    render_poster,
)
from freshtap.media.video import (
    MAX_DURATION_S,
    MIN_DURATION_S,
    RenderedVideo,
    Scene,
    VideoSpec,
    encode_video,
    plan_scenes,
    render_video,
)
from freshtap.media.wrap import wrap_text

__all__ = [
    "MAX_DURATION_S",
    "MIN_DURATION_S",
    "POSTER_SIZES",
    "Box",
    "FaceCheck",
    "FontNotFound",
    "MediaError",
    "PosterLayout",
    "PosterSpec",
    "RenderedVideo",
    "Scene",
    "SpecError",
    "TextLine",
    "VideoSpec",
    "blur_faces",
    "compose_poster",
    "encode_video",
    "find_cjk_font",
    "find_faces",
    "font_candidates",
    "layout_poster",
    "plan_scenes",
    "qr_matrix",
    "render_poster",
    "render_video",
    "wrap_text",
]
