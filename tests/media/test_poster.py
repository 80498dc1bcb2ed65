"""The poster: Chinese text really drawn (glyphs, not tofu) where the layout puts it, a QR code that
reads back as the referral link, and clear errors for bad specs or a missing font."""

# ruff: noqa: RUF001 - Chinese text and punctuation are what these tests are about

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import zxingcpp

from freshtap.media import (
    FontNotFound,
    PosterSpec,
    SpecError,
    compose_poster,
    find_cjk_font,
    layout_poster,
    render_poster,
)
from freshtap.media.fonts import DEBIAN_WQY_MICROHEI, draws_cjk, font_candidates

from .glyphs import check_line

LATIN_ONLY = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")

SPEC = PosterSpec(
    product_name="鲜牛奶 1 L · Whole milk",
    review="这瓶牛奶在冰箱里放了五天，一直保持在四度以下，喝完的时候还很新鲜。下次还会再买。",
    facts=("冷藏 5 天", "平均 3.6 °C", "喝完时新鲜"),
    referral_url="https://freshtap.example/r/AB12CD34",
    disclosure="广告 · 分享可获奖励",
)


def decode(png: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return image


@pytest.fixture(scope="module")
def poster() -> np.ndarray:
    return decode(render_poster(SPEC))


def test_the_poster_is_a_png_of_the_asked_size(poster: np.ndarray) -> None:
    assert poster.shape == (1350, 1080, 3)
    tall = decode(render_poster(PosterSpec(product_name="牛奶", review="好", referral_url="https://x.test/r/1",
                                           size=(1080, 1920))))
    assert tall.shape == (1920, 1080, 3)


def test_chinese_glyphs_are_drawn_where_the_layout_puts_the_text(poster: np.ndarray) -> None:
    layout = layout_poster(SPEC)
    assert len(layout.review) >= 2  # wrapped: Chinese has no spaces to break at
    lines = [*layout.title, *layout.facts, *layout.review, *layout.disclosure, *layout.qr_caption]
    assert "".join(line.text for line in layout.review).replace("…", "") == SPEC.review
    for line in lines:
        check = check_line(poster, line)
        assert check.glyphs_ok, check
    # and nowhere else in the review card's empty lower half
    card = layout.review_card
    below = poster[layout.review[-1].box.bottom + 20:card.bottom - 30, card.x + 40:card.right - 40]
    assert below.size and (below.min(axis=2) > 200).all()


def test_a_font_without_chinese_glyphs_is_caught_as_tofu() -> None:
    """The same check fails when the poster is drawn with a Latin-only font: it sees boxes."""
    assert LATIN_ONLY.is_file()
    layout = layout_poster(SPEC, LATIN_ONLY)
    image = compose_poster(SPEC, layout)
    failed = [check_line(image, line) for line in layout.review if not check_line(image, line).glyphs_ok]
    assert failed, "a Latin-only font should draw identical .notdef boxes for Chinese characters"
    assert all(check.distinct < check.cjk_chars for check in failed)


def test_the_font_search_refuses_a_latin_only_font_and_says_where_it_looked() -> None:
    assert not draws_cjk(LATIN_ONLY)
    assert find_cjk_font(preferred=LATIN_ONLY) != LATIN_ONLY
    with pytest.raises(FontNotFound, match=r"DejaVuSans\.ttf.*pylopdf-fonts-zh-cn"):
        find_cjk_font(candidates=[LATIN_ONLY, Path("/nonexistent/font.ttf")])


def test_the_pip_font_works_without_the_debian_one() -> None:
    """`make demo` on a machine without fonts-wqy-microhei: the pinned pip package's font is found."""
    others = [p for p in font_candidates() if p != DEBIAN_WQY_MICROHEI]
    assert others, "pylopdf-fonts-zh-cn is not installed"
    found = find_cjk_font(candidates=others)
    image = compose_poster(SPEC, layout_poster(SPEC, found))
    assert all(check_line(image, line).glyphs_ok for line in layout_poster(SPEC, found).review)


def test_the_qr_code_reads_back_as_the_referral_link(poster: np.ndarray) -> None:
    layout = layout_poster(SPEC)
    qr = layout.qr
    crop = poster[qr.y - 16:qr.bottom + 16, qr.x - 16:qr.right + 16]
    codes = zxingcpp.read_barcodes(crop)
    assert [c.text for c in codes] == [SPEC.referral_url]
    assert codes[0].format == zxingcpp.BarcodeFormat.QRCode


def test_rendering_is_deterministic() -> None:
    assert render_poster(SPEC) == render_poster(SPEC)


def test_long_reviews_are_cut_with_an_ellipsis_inside_the_card() -> None:
    spec = PosterSpec(product_name="牛奶", review="很新鲜。" * 300, referral_url="https://x.test/r/1")
    layout = layout_poster(spec)
    assert layout.review[-1].text.endswith("…")
    assert layout.review[-1].box.bottom <= layout.review_card.bottom
    assert all(line.box.right <= layout.review_card.right for line in layout.review)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"referral_url": "javascript:alert(1)"}, "http"),
        ({"product_name": "  "}, "product name"),
        ({"size": (100, 100)}, "size"),
        ({"facts": tuple(str(i) for i in range(7))}, "facts"),
        ({"review": "x" * 2001}, "2,000"),
    ],
)
def test_bad_specs_are_refused_clearly(changes: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {"product_name": "牛奶", "review": "好", "referral_url": "https://x.test/r/1"}
    with pytest.raises(SpecError, match=message):
        PosterSpec(**{**fields, **changes})  # type: ignore[arg-type]
