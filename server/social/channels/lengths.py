"""How each platform counts the length of a post, and fitting a text under a limit.

- Mastodon counts characters (code points; an emoji sequence counts as one), and any URL as 23
  characters whatever its length (docs.joinmastodon.org, "Posting to your profile"; the
  server's `configuration.statuses.characters_reserved_per_url` is 23).
- Weibo counts 汉字: a full-width character is one, two half-width (ASCII) characters are one,
  rounded up (open.weibo.com wiki, statuses/share: "内容不超过140个汉字"). URLs are counted at full
  length here, which is never less than Weibo's own count after it shortens them.
- Everything else counts code points.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

__all__ = ["URL_PATTERN", "code_points", "fit", "mastodon_length", "weibo_length"]

URL_PATTERN = re.compile(r"https?://[^\s<>\"]+")
_MASTODON_URL_LENGTH = 23

Counter = Callable[[str], int]


def code_points(text: str) -> int:
    return len(text)


def _graphemes(text: str) -> int:
    # Close enough to a grapheme count for posts: combining marks, ZWJ and variation selectors
    # and skin-tone modifiers join the character before them.
    count = 0
    joined = False
    for ch in text:
        if joined or unicodedata.combining(ch) or ch in "\u200d\ufe0f\ufe0e" or "\U0001f3fb" <= ch <= "\U0001f3ff":
            joined = ch == "\u200d"
            continue
        count += 1
    return count


def mastodon_length(text: str) -> int:
    urls = URL_PATTERN.findall(text)
    rest = URL_PATTERN.sub("", text)
    return _graphemes(rest) + _MASTODON_URL_LENGTH * len(urls)


def weibo_length(text: str) -> int:
    half = sum(1 if ord(ch) < 128 else 2 for ch in text)
    return (half + 1) // 2


def fit(text: str, budget: int, count: Counter) -> tuple[str, bool]:
    """`text` cut (with "…") so that `count` of it is at most `budget`; and whether it was cut."""
    if count(text) <= budget:
        return text, False
    if budget <= 0:
        return "", True
    low, high = 0, len(text)
    while low < high:  # the longest prefix that fits with the ellipsis
        mid = (low + high + 1) // 2
        if count(text[:mid].rstrip() + "…") <= budget:
            low = mid
        else:
            high = mid - 1
    cut = text[:low].rstrip()
    return (cut + "…" if cut else ""), True
