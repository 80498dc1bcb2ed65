"""Review drafts in Chinese and English, written from facts by templates and nothing else.

Each sentence carries the ids of the facts it states (`Sentence.fact_ids`), and its text is
exactly what `render(kind group, facts, language)` gives for those facts: a sentence can always
be re-derived from its facts, which is how the tests and the door screen trace it. There is no
free text but the owner's own note, quoted verbatim; a rating sentence exists only when the owner
gave a rating. Numbers are printed as the facts hold them (temperatures and hours to 0.1).
"""

# ruff: noqa: RUF001 - the Chinese templates use Chinese punctuation

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from freshtap.server.domain.review_facts import Fact, FactKind

__all__ = ["LANGUAGES", "Draft", "Language", "Sentence", "compose", "fact_chips", "format_number", "render"]

Language = Literal["zh", "en"]
LANGUAGES: tuple[Language, ...] = ("zh", "en")

# Which facts one sentence states, in the order sentences appear. `product` and `bought_at` are
# always present (every draft is about an order), so the first sentence always exists.
_GROUPS: tuple[tuple[FactKind, ...], ...] = (
    ("product", "bought_at"),
    ("lasted",),
    ("storage_temp",),
    ("excursion",),
    ("freshness_end",),
    ("repurchases",),
    ("owner_rating",),
    ("owner_note",),
)

_FRESHNESS_END: dict[Language, dict[str, str]] = {
    "en": {
        "fresh": "It was still fresh when we finished it.",
        "use_soon": "It was due to be used soon when we finished it.",
        "expiring": "It was close to expiring when we finished it.",
        "expired": "It had passed its date when we finished it.",
    },
    "zh": {
        "fresh": "吃完的时候它还很新鲜。",
        "use_soon": "吃完的时候它已到了该尽快食用的时候。",
        "expiring": "吃完的时候它快要过期了。",
        "expired": "吃完的时候它已经过了日期。",
    },
}


@dataclass(frozen=True)
class Sentence:
    text: str
    fact_ids: tuple[str, ...]


@dataclass(frozen=True)
class Draft:
    language: Language
    sentences: tuple[Sentence, ...]

    @property
    def text(self) -> str:
        return ("" if self.language == "zh" else " ").join(s.text for s in self.sentences)

    def to_json(self) -> list[dict[str, object]]:
        return [{"text": s.text, "facts": list(s.fact_ids)} for s in self.sentences]


def format_number(value: object) -> str:
    """How a number from a fact is printed: integers as they are, other numbers to 0.1."""
    if isinstance(value, bool):
        raise TypeError("not a number")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.1f}"
    raise TypeError(f"not a number: {value!r}")


def _en(kind: tuple[FactKind, ...], v: Mapping[FactKind, Mapping[str, object]]) -> str:
    n = format_number
    match kind:
        case ("product", "bought_at"):
            return f"I bought {v['product']['name']} on {v['bought_at']['date']}."
        case ("lasted",):
            days = v["lasted"]["days"]
            return f"The one before lasted {n(days)} {'day' if days == 1 else 'days'} in my fridge."
        case ("storage_temp",):
            t = v["storage_temp"]
            return (
                f"My fridge kept it between {n(t['min_c'])} °C and {n(t['max_c'])} °C, {n(t['mean_c'])} °C on average."
            )
        case ("excursion",):
            e = v["excursion"]
            return f"It spent {n(e['hours'])} hours warmer than {n(e['above_c'])} °C, at most {n(e['max_c'])} °C."
        case ("freshness_end",):
            return _FRESHNESS_END["en"][str(v["freshness_end"]["state"])]
        case ("repurchases",):
            count = v["repurchases"]["count"]
            return "I had ordered it once before." if count == 1 else f"I had ordered it {n(count)} times before."
        case ("owner_rating",):
            r = v["owner_rating"]
            return f"My rating: {n(r['stars'])} out of {n(r['of'])}."
        case ("owner_note",):
            return str(v["owner_note"]["text"])
    raise ValueError(f"no template for {kind}")


def _zh(kind: tuple[FactKind, ...], v: Mapping[FactKind, Mapping[str, object]]) -> str:
    n = format_number
    match kind:
        case ("product", "bought_at"):
            return f"我在{v['bought_at']['date']}买了{v['product']['name']}。"
        case ("lasted",):
            return f"上一份在我的冰箱里放了{n(v['lasted']['days'])}天。"
        case ("storage_temp",):
            t = v["storage_temp"]
            return f"冰箱把它保存在{n(t['min_c'])}°C到{n(t['max_c'])}°C之间，平均{n(t['mean_c'])}°C。"
        case ("excursion",):
            e = v["excursion"]
            return f"它有{n(e['hours'])}小时高于{n(e['above_c'])}°C，最高{n(e['max_c'])}°C。"
        case ("freshness_end",):
            return _FRESHNESS_END["zh"][str(v["freshness_end"]["state"])]
        case ("repurchases",):
            return f"我之前已经买过{n(v['repurchases']['count'])}次。"
        case ("owner_rating",):
            r = v["owner_rating"]
            return f"我的评分：{n(r['stars'])}/{n(r['of'])}。"
        case ("owner_note",):
            return str(v["owner_note"]["text"])
    raise ValueError(f"no template for {kind}")


def render(kinds: Sequence[FactKind], facts: Sequence[Fact], language: Language) -> str:
    """The sentence stating exactly the facts of `kinds` (which must all be in `facts`)."""
    by_kind: dict[FactKind, Mapping[str, object]] = {f.kind: f.values for f in facts}
    missing = [k for k in kinds if k not in by_kind]
    if missing:
        raise ValueError(f"no fact for {missing}")
    template = _zh if language == "zh" else _en
    return template(tuple(kinds), by_kind)


def compose(facts: Sequence[Fact], language: Language) -> Draft:
    """The draft in `language`: one sentence per group of facts present, in a fixed order."""
    present = {f.kind: f for f in facts}
    sentences = []
    for group in _GROUPS:
        if all(kind in present for kind in group):
            sentences.append(Sentence(render(group, facts, language), tuple(present[kind].id for kind in group)))
    return Draft(language, tuple(sentences))


def fact_chips(facts: Sequence[Fact], language: Language) -> tuple[str, ...]:
    """Short highlights of the measured and owner facts, for the poster (at most 6, each under 40 characters)."""
    n = format_number
    zh = language == "zh"
    chips: list[str] = []
    for fact in facts:
        v = fact.values
        match fact.kind:
            case "lasted":
                chips.append(f"冷藏 {n(v['days'])} 天" if zh else f"{n(v['days'])} days in the fridge")
            case "storage_temp":
                chips.append(f"{n(v['min_c'])}–{n(v['max_c'])} °C")
                chips.append(f"平均 {n(v['mean_c'])} °C" if zh else f"mean {n(v['mean_c'])} °C")
            case "excursion":
                chips.append(
                    f"{n(v['hours'])} 小时高于 {n(v['above_c'])} °C"
                    if zh
                    else f"{n(v['hours'])} h above {n(v['above_c'])} °C"
                )
            case "repurchases":
                chips.append(f"回购 {n(v['count'])} 次" if zh else f"bought {n(v['count'])}x before")
            case "owner_rating":
                chips.append(f"评分 {n(v['stars'])}/{n(v['of'])}" if zh else f"rated {n(v['stars'])}/{n(v['of'])}")
    return tuple(chip[:40] for chip in chips[:6])
