"""The review poster: a PNG with the product, the review, measured facts, a disclosure and a QR code.

    spec = PosterSpec(product_name="鲜牛奶 1 L", review="放了五天，一直很新鲜。",
                      facts=("冷藏 5 天", "平均 3.6 °C"), referral_url="https://example.test/r/AB12",
                      disclosure="广告 · 分享可获奖励")
    png = render_poster(spec)

OpenCV composes the poster (the canvas, cards, chips and the QR code placed as pixels); Pillow
draws the text with a CJK font (`fonts.find_cjk_font`), wrapped for Chinese (`wrap.wrap_text`).
`layout_poster` says where everything goes before anything is drawn, so a test can look for
glyphs exactly where text should be. Deterministic: the same spec and font give the same bytes.
No clock, no I/O beyond reading the font file.
"""

# ruff: noqa: RUF002 - the example is in Chinese

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import cv2
import numpy as np
import segno
from numpy.typing import NDArray

from .drawing import BGR, Box, TextLine, draw_text, layout_text, rounded_rect, vertical_gradient
from .errors import SpecError
from .fonts import cjk_font, find_cjk_font

__all__ = [
    "POSTER_SIZES",
    "PosterLayout",
    "PosterSpec",
    "compose_poster",
    "layout_poster",
    "qr_matrix",
    "render_poster",
]

POSTER_SIZES = ((1080, 1350), (1080, 1920))
"""Width x height: 4:5 (feeds) and 9:16 (stories)."""

_INK: BGR = (40, 38, 33)
_MUTED: BGR = (95, 96, 90)
_ACCENT: BGR = (120, 150, 20)  # teal-green, BGR
_CHIP: BGR = (228, 240, 214)
_CARD: BGR = (255, 255, 255)
_SHADOW: BGR = (214, 222, 208)
_WARN: BGR = (30, 90, 200)
_MARGIN = 72


@dataclass(frozen=True)
class PosterSpec:
    """What a poster shows. Text may be Chinese, English or both."""

    product_name: str
    review: str
    referral_url: str
    facts: tuple[str, ...] = ()
    """Short highlights of measured facts, e.g. "冷藏 5 天", "3.2-4.1 °C"."""
    disclosure: str | None = None
    """The label the post must carry when an incentive exists (e.g. "广告", "#ad")."""
    qr_caption: str = "扫码购买 · Scan to buy"
    size: tuple[int, int] = POSTER_SIZES[0]
    font: Path | None = field(default=None, compare=False)
    """A font to use instead of the one `find_cjk_font` picks."""

    def __post_init__(self) -> None:
        if self.size not in POSTER_SIZES:
            raise SpecError(f"poster size must be one of {POSTER_SIZES}, got {self.size}")
        if not self.product_name.strip():
            raise SpecError("the poster needs a product name")
        if len(self.product_name) > 120:
            raise SpecError("the product name is longer than 120 characters")
        if len(self.review) > 2000:
            raise SpecError("the review text is longer than 2,000 characters")
        if len(self.facts) > 6 or any(len(f) > 40 for f in self.facts):
            raise SpecError("at most 6 facts of at most 40 characters each")
        if self.disclosure is not None and len(self.disclosure) > 120:
            raise SpecError("the disclosure is longer than 120 characters")
        parts = urlsplit(self.referral_url)
        if parts.scheme not in ("http", "https") or not parts.netloc or len(self.referral_url) > 500:
            raise SpecError(f"the referral link must be an http(s) URL of at most 500 characters: "
                            f"{self.referral_url!r}")


@dataclass(frozen=True)
class PosterLayout:
    """Where each part of the poster goes (pixels)."""

    size: tuple[int, int]
    title: tuple[TextLine, ...]
    facts: tuple[TextLine, ...]
    fact_chips: tuple[Box, ...]
    review_card: Box
    review: tuple[TextLine, ...]
    disclosure: tuple[TextLine, ...]
    disclosure_tag: Box | None
    qr: Box
    qr_caption: tuple[TextLine, ...]
    qr_modules: int
    """Modules per side of the QR code, quiet zone included."""

    @property
    def text_lines(self) -> tuple[TextLine, ...]:
        return self.title + self.facts + self.review + self.disclosure + self.qr_caption


def qr_matrix(url: str) -> NDArray[np.bool_]:
    """The QR code of `url` (error correction M) as a boolean matrix, True = dark, 4-module quiet zone."""
    code = segno.make(url, error="m", micro=False, boost_error=False)
    return np.array([list(row) for row in code.matrix_iter(scale=1, border=4)], dtype=bool)


def layout_poster(spec: PosterSpec, font_path: Path | None = None) -> PosterLayout:
    """Where every part of `spec` goes on the poster (nothing is drawn).

    `font_path` is used as it is, unchecked (tests pass a Latin-only font on purpose); without it,
    `find_cjk_font` picks one.
    """
    path = font_path or find_cjk_font(spec.font)
    width, height = spec.size
    inner = width - 2 * _MARGIN

    title = layout_text(spec.product_name, cjk_font(path, 68), _INK, x=_MARGIN, y=80, max_width=inner,
                        line_spacing=1.2, max_lines=2)
    y = title[-1].box.bottom + 40

    # fact chips, flowing left to right
    chip_font = cjk_font(path, 34)
    ascent, descent = chip_font.getmetrics()
    chip_h, pad = ascent + descent + 28, 26
    chips: list[Box] = []
    chip_text: list[TextLine] = []
    x = _MARGIN
    for fact in spec.facts:
        text_w = min(round(chip_font.getlength(fact)), inner - 2 * pad)
        w = text_w + 2 * pad
        if x > _MARGIN and x + w > width - _MARGIN:
            x, y = _MARGIN, y + chip_h + 18
        chips.append(Box(x, y, w, chip_h))
        line = layout_text(fact, chip_font, _ACCENT, x=x + pad, y=y + 14, max_width=text_w + 1, max_lines=1)
        chip_text.extend(line)
        x += w + 18
    if chips:
        y = chips[-1].bottom + 44

    qr_modules = qr_matrix(spec.referral_url).shape[0]
    qr_side = (300 // qr_modules) * qr_modules if qr_modules <= 300 else qr_modules
    qr_box = Box(width - _MARGIN - qr_side, height - _MARGIN - qr_side, qr_side, qr_side)

    card = Box(_MARGIN - 8, y, inner + 16, max(120, qr_box.y - 48 - y))
    review_font = cjk_font(path, 42)
    r_ascent, r_descent = review_font.getmetrics()
    line_h = round((r_ascent + r_descent) * 1.45)
    max_lines = max(1, (card.h - 2 * 44) // line_h)
    review = layout_text(spec.review, review_font, _INK, x=card.x + 44, y=card.y + 44, max_width=card.w - 88,
                         line_spacing=1.45, max_lines=max_lines)

    left_w = qr_box.x - _MARGIN - 36
    caption = layout_text(spec.qr_caption, cjk_font(path, 36), _INK, x=_MARGIN, y=qr_box.y + 8,
                          max_width=left_w, max_lines=2)
    disclosure: list[TextLine] = []
    tag: Box | None = None
    if spec.disclosure:
        tag_font = cjk_font(path, 32)
        tag_y = caption[-1].box.bottom + 36
        disclosure = layout_text(spec.disclosure, tag_font, _WARN, x=_MARGIN + 20, y=tag_y + 12,
                                 max_width=left_w - 40, max_lines=max(1, (qr_box.bottom - tag_y - 24) // 48))
        tag_w = max(line.box.w for line in disclosure) + 40
        tag = Box(_MARGIN, tag_y, tag_w, disclosure[-1].box.bottom - tag_y + 14)
    return PosterLayout(
        size=spec.size,
        title=tuple(title),
        facts=tuple(chip_text),
        fact_chips=tuple(chips),
        review_card=card,
        review=tuple(review),
        disclosure=tuple(disclosure),
        disclosure_tag=tag,
        qr=qr_box,
        qr_caption=tuple(caption),
        qr_modules=qr_modules,
    )


def _place_qr(canvas: NDArray[np.uint8], matrix: NDArray[np.bool_], box: Box) -> None:
    scale = box.w // matrix.shape[0]
    modules = np.kron(matrix, np.ones((scale, scale), dtype=bool))
    pixels = np.where(modules[:, :, None], np.uint8(20), np.uint8(255)).astype(np.uint8)
    side = modules.shape[0]
    canvas[box.y:box.y + side, box.x:box.x + side] = np.broadcast_to(pixels, (side, side, 3))


def compose_poster(spec: PosterSpec, layout: PosterLayout) -> NDArray[np.uint8]:
    """The poster as a BGR image, drawn as `layout` says (with whatever font the layout was made with)."""
    width, height = spec.size
    canvas = vertical_gradient(width, height, (236, 246, 226), (250, 250, 246))
    cv2.rectangle(canvas, (0, 0), (width - 1, 20), _ACCENT, -1)
    for chip in layout.fact_chips:
        rounded_rect(canvas, chip, chip.h // 2, _CHIP)
    card = layout.review_card
    rounded_rect(canvas, Box(card.x + 6, card.y + 8, card.w, card.h), 28, _SHADOW)
    rounded_rect(canvas, card, 28, _CARD)
    cv2.rectangle(canvas, (card.x, card.y + 28), (card.x + 8, card.bottom - 28), _ACCENT, -1)
    if layout.disclosure_tag is not None:
        tag = layout.disclosure_tag
        rounded_rect(canvas, tag, 12, _WARN)
        rounded_rect(canvas, Box(tag.x + 3, tag.y + 3, tag.w - 6, tag.h - 6), 10, (242, 246, 255))
    qr = layout.qr
    rounded_rect(canvas, Box(qr.x - 16, qr.y - 16, qr.w + 32, qr.h + 32), 16, _CARD)
    _place_qr(canvas, qr_matrix(spec.referral_url), qr)
    return draw_text(canvas, layout.text_lines)


def render_poster(spec: PosterSpec) -> bytes:
    """The poster for `spec` as PNG bytes (`FontNotFound` when no CJK font is installed)."""
    canvas = compose_poster(spec, layout_poster(spec, find_cjk_font(spec.font)))
    ok, png = cv2.imencode(".png", canvas, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 BGR image
        raise RuntimeError("OpenCV could not encode the poster")
    return png.tobytes()
