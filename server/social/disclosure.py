"""What a post must say about itself: the ad label when the owner gets a reward, and where it came from.

Pure. The label depends on the jurisdiction of the owner (and the post's language):

- US: the FTC's Endorsement Guides (16 CFR Part 255, revised 2023) and its "Disclosures 101 for
  Social Media Influencers" ask for a clear label such as "#ad" or "Sponsored" placed where it is
  seen, so it opens the post rather than hiding among hashtags at the end.
- CN: the 互联网广告管理办法 (SAMR, in force 1 May 2023), article 9: an internet ad must be
  identifiable, and one that promotes goods must be marked "广告" prominently.
- EU: the Unfair Commercial Practices Directive (2005/29/EC, annex I point 11, and the
  Commission's 2021 guidance on influencer marketing) forbids hiding that content is paid for;
  the label names it plainly as an advertisement and says what was received.

Every post, with or without an incentive, also carries the provenance note: drafted from what the
fridge measured, approved by the owner (DESIGN.md, "rules that never bend").
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Disclosure", "disclosure_for", "provenance_note"]


@dataclass(frozen=True)
class Disclosure:
    label: str
    """Goes first in the post; empty when there is no incentive."""
    note: str
    """Goes last: where the post came from, and (with an incentive) that a reward was received."""


_LABELS: dict[tuple[str, str], str] = {
    ("US", "en"): "#ad",
    ("US", "zh"): "#ad 广告",
    ("CN", "zh"): "【广告】",
    ("CN", "en"): "【广告】Ad",
    ("EU", "en"): "[Advertisement]",
    ("EU", "zh"): "【广告】Advertisement",
}

_REWARD = {
    "en": "I receive a reward for sharing this.",
    "zh": "分享本帖可获得奖励。",
}

_PROVENANCE = {
    "en": "Drafted by freshtap from what my fridge measured; I read and approved this post.",
    "zh": "本帖由 freshtap 根据冰箱实测数据起草，经本人审阅同意后发布。",  # noqa: RUF001 - Chinese punctuation
}


def provenance_note(language: str) -> str:
    return _PROVENANCE["zh" if language == "zh" else "en"]


def disclosure_for(jurisdiction: str, language: str, incentive: bool) -> Disclosure:
    """The label and note a post needs; an unknown jurisdiction gets the strictest wording (CN + EU)."""
    lang = "zh" if language == "zh" else "en"
    note = provenance_note(lang)
    if not incentive:
        return Disclosure(label="", note=note)
    label = _LABELS.get((jurisdiction.upper(), lang))
    if label is None:
        label = "【广告】" if lang == "zh" else "[Advertisement] #ad"
    return Disclosure(label=label, note=f"{_REWARD[lang]} {note}")
