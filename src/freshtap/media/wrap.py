"""Line breaking for mixed Chinese and Latin text, by measured width.

Chinese has no spaces: a line may break between any two ideographs, while Latin words and numbers
break only at spaces. Punctuation follows the common CJK rules (kinsoku): a closing mark such as
`，。！？、）》”` never starts a line and an opening mark such as `（《“` never ends one, so each
is kept with its neighbour. A word wider than a whole line is cut by characters. `\\n` forces a
break. Pure: the caller supplies `measure(text) -> width`.
"""

# ruff: noqa: RUF001, RUF002 - Chinese punctuation is what this module is about

from __future__ import annotations

import unicodedata
from collections.abc import Callable

__all__ = ["is_cjk", "tokens", "wrap_text"]

_CLOSING = set("，。！？、；：）」』》〉】〕”’…％")
_OPENING = set("（「『《〈【〔“‘")
_ASCII_CLOSING = set(",.!?;:)]}%")


def is_cjk(char: str) -> bool:
    """A character that stands alone for line breaking (ideographs, kana, hangul, fullwidth forms)."""
    if unicodedata.east_asian_width(char) in ("W", "F"):
        return True
    code = ord(char)
    return 0x3000 <= code <= 0x30FF or 0x4E00 <= code <= 0x9FFF


def tokens(text: str) -> list[tuple[str, bool]]:
    """The unbreakable pieces of one paragraph, each with whether a space came before it."""
    pieces: list[tuple[str, bool]] = []
    word = ""
    space = False

    def flush() -> None:
        nonlocal word, space
        if word:
            pieces.append((word, space))
            word, space = "", False

    def glue(char: str) -> None:
        last, before = pieces.pop()
        pieces.append((last + char, before))

    for char in text:
        if char.isspace():
            flush()
            space = bool(pieces)
        elif char in _CLOSING or (char in _ASCII_CLOSING and not word and not space and pieces):
            # a closing mark never starts a line: it stays with what comes before it
            if word:
                word += char
                flush()
            elif pieces:
                glue(char)
                space = False
            else:
                word = char
        elif is_cjk(char) or char in _OPENING:
            flush()
            pieces.append((char, space))
            space = False
        else:
            word += char
    flush()
    # an opening mark is kept with what follows it
    merged: list[tuple[str, bool]] = []
    carry: tuple[str, bool] | None = None
    for piece, before in pieces:
        if carry is not None:
            piece, before = carry[0] + piece, carry[1]
            carry = None
        if piece and piece[-1] in _OPENING:
            carry = (piece, before)
            continue
        merged.append((piece, before))
    if carry is not None:
        merged.append(carry)
    return merged


def _cut(piece: str, measure: Callable[[str], float], max_width: float) -> list[str]:
    """A piece wider than a line, cut into lines character by character."""
    lines: list[str] = []
    current = ""
    for char in piece:
        if current and measure(current + char) > max_width:
            lines.append(current)
            current = char
        else:
            current += char
    if current:
        lines.append(current)
    return lines


def wrap_text(text: str, measure: Callable[[str], float], max_width: float) -> list[str]:
    """`text` broken into lines no wider than `max_width` (by `measure`), wherever the rules allow."""
    if max_width <= 0:
        raise ValueError("max_width must be positive")
    lines: list[str] = []
    for paragraph in text.split("\n"):
        current = ""
        for piece, space in tokens(paragraph):
            candidate = current + (" " if space and current else "") + piece
            if not current or measure(candidate) <= max_width:
                if not current and measure(piece) > max_width:
                    cut = _cut(piece, measure, max_width)
                    lines.extend(cut[:-1])
                    current = cut[-1]
                else:
                    current = candidate
                continue
            lines.append(current)
            if measure(piece) > max_width:
                cut = _cut(piece, measure, max_width)
                lines.extend(cut[:-1])
                current = cut[-1]
            else:
                current = piece
        lines.append(current)
    return lines
