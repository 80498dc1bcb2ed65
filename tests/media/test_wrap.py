"""Line breaking: Chinese breaks between characters, Latin at spaces, punctuation stays attached."""

# ruff: noqa: RUF001 - Chinese text and punctuation are what these tests are about

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from freshtap.media import wrap_text

CLOSING = "，。！？、；：）》”"
OPENING = "（《“"


def width(text: str) -> float:
    return float(len(text))


def test_chinese_wraps_between_characters_without_spaces() -> None:
    assert wrap_text("这瓶牛奶在冰箱里放了五天", width, 5) == ["这瓶牛奶在", "冰箱里放了", "五天"]


def test_a_closing_mark_never_starts_a_line_and_an_opening_mark_never_ends_one() -> None:
    lines = wrap_text("放了五天，很新鲜。（四度）", width, 4)
    assert not any(line[0] in CLOSING for line in lines)
    assert not any(line[-1] in OPENING for line in lines)


def test_latin_words_break_at_spaces_and_numbers_stay_whole() -> None:
    assert wrap_text("Kept at 3.8 °C for five days", width, 12) == ["Kept at 3.8", "°C for five", "days"]


def test_newlines_force_breaks_and_overlong_words_are_cut() -> None:
    assert wrap_text("ab\ncd", width, 10) == ["ab", "cd"]
    assert wrap_text("abcdefghij", width, 4) == ["abcd", "efgh", "ij"]


@given(st.text(alphabet="牛奶新鲜冰箱 abc12.，。（）", max_size=60), st.integers(3, 20))
def test_no_text_is_lost_and_no_line_is_too_wide(text: str, limit: int) -> None:
    lines = wrap_text(text, width, limit)
    assert all(len(line) <= limit for line in lines)
    assert "".join("".join(lines).split()) == "".join(text.split())
