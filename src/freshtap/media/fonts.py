"""Finding a font that draws Chinese: OpenCV's own fonts cannot, so text goes through Pillow.

The search order is fixed and documented (docs/media.md): a font the caller prefers (a path passed
to `find_cjk_font`), then

1. Debian's `fonts-wqy-microhei` (`/usr/share/fonts/truetype/wqy/wqy-microhei.ttc`, GPL with the
   font exception), which the project's machines install for Chromium as well;
2. Noto Sans SC from the pinned pip package `pylopdf-fonts-zh-cn` (SIL OFL 1.1), so a fresh
   machine without the Debian font still renders Chinese after `pip install`.

A font counts only if it really has glyphs for common Chinese characters (checked with Pillow:
a missing glyph draws the font's `.notdef` box, the same for every character).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from pathlib import Path

from PIL import ImageFont

from .errors import FontNotFound

__all__ = ["DEBIAN_WQY_MICROHEI", "cjk_font", "draws_cjk", "find_cjk_font", "font_candidates"]

DEBIAN_WQY_MICROHEI = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
# Distinct common characters: a font lacking them draws one identical .notdef box for each.
_PROBE = "冰箱新鲜牛奶"


def _pip_font() -> Path | None:
    try:
        import pylopdf_fonts_zh_cn  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        return None
    path: Path = pylopdf_fonts_zh_cn.sans_path()
    return path


def font_candidates() -> list[Path]:
    """Where a CJK font is looked for, in order (existing or not)."""
    found = [DEBIAN_WQY_MICROHEI]
    pip_font = _pip_font()
    if pip_font is not None:
        found.append(pip_font)
    return found


@functools.lru_cache(maxsize=16)
def draws_cjk(path: Path) -> bool:
    """True when the font at `path` draws distinct glyphs for common Chinese characters."""
    try:
        font = ImageFont.truetype(str(path), 32)
    except OSError:
        return False
    masks = []
    for char in _PROBE:
        mask = font.getmask(char)
        if mask.getbbox() is None:
            return False
        masks.append(bytes(mask))
    return len(set(masks)) == len(masks)


def find_cjk_font(preferred: Path | str | None = None, candidates: Iterable[Path] | None = None) -> Path:
    """The first usable CJK font: `preferred` if given and usable, then `candidates` (default: see module).

    Raises `FontNotFound`, naming every place it looked, when none is usable.
    """
    places: Sequence[Path] = list(candidates) if candidates is not None else font_candidates()
    if preferred is not None:
        places = [Path(preferred), *places]
    for path in places:
        if path.is_file() and draws_cjk(path):
            return path
    looked = ", ".join(str(p) for p in places) or "nowhere"
    raise FontNotFound(
        "no font that draws Chinese was found (looked at: " + looked + "); install Debian's "
        "fonts-wqy-microhei or the pip package pylopdf-fonts-zh-cn"
    )


@functools.lru_cache(maxsize=64)
def cjk_font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    """The font at `path` in `size` pixels (cached: loading a 17 MB font file costs tens of ms)."""
    return ImageFont.truetype(str(path), size)
