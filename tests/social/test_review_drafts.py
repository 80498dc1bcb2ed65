"""Review drafting from facts: every sentence traces to facts, no rating unless given, numbers as the facts hold them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from freshtap.server.domain.review_drafts import LANGUAGES, compose, fact_chips, format_number, render
from freshtap.server.domain.review_facts import (
    OwnerInput,
    Purchase,
    StayRecord,
    TempSpan,
    facts_from_json,
    facts_to_json,
    gather_facts,
)

T0 = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
RATING_WORDS = ("rating", "out of 5", "评分", "/5", "star", "星")

names = st.text(alphabet="abcdeghiklmnopuvwxyz 牛奶酸面包鸡蛋", min_size=1, max_size=30).filter(str.strip)
notes = st.none() | st.text(alphabet="abcdefghijklmnopqrstuvwxyz ,.!好吃新鲜", min_size=0, max_size=80)


@st.composite
def histories(draw: st.DrawFn) -> tuple[Purchase, StayRecord | None, OwnerInput, datetime]:
    bought = T0 + timedelta(minutes=draw(st.integers(0, 60 * 24 * 60)))
    purchase = Purchase(draw(names), bought, draw(st.integers(0, 40)))
    stay = None
    if draw(st.booleans()):
        added = bought - timedelta(minutes=draw(st.integers(0, 60 * 24 * 30)))
        left = draw(st.booleans())
        removed = added + timedelta(minutes=draw(st.integers(0, 60 * 24 * 40))) if left else None
        spans = []
        start = added - timedelta(hours=draw(st.integers(0, 5)))
        for _ in range(draw(st.integers(0, 8))):
            length = timedelta(minutes=draw(st.integers(1, 60 * 48)))
            spans.append(TempSpan(start, start + length, draw(st.floats(-25, 20, allow_nan=False))))
            start += length
        stay = StayRecord(
            added_at=added,
            removed_at=removed,
            outcome=draw(st.sampled_from(["used_up", "thrown_away", "taken_out"])) if left else None,
            freshness_at_removal=draw(st.sampled_from(["fresh", "use_soon", "expiring", "expired"])) if left else None,
            temperatures=tuple(spans),
        )
    owner = OwnerInput(note=draw(notes), rating=draw(st.none() | st.integers(1, 5)))
    now = bought + timedelta(days=draw(st.integers(0, 60)))
    return purchase, stay, owner, now


def _numbers_stated(text: str, strings: list[str]) -> list[str]:
    for value in sorted(strings, key=len, reverse=True):
        text = text.replace(value, " ")
    return NUMBER.findall(text)


@settings(max_examples=1000, deadline=None)
@given(histories())
def test_every_sentence_maps_to_facts_and_states_only_them(history: tuple) -> None:  # type: ignore[type-arg]
    purchase, stay, owner, now = history
    facts = gather_facts(purchase, stay, owner, now)
    by_id = {f.id: f for f in facts}
    assert facts_from_json(facts_to_json(facts)) == facts
    for language in LANGUAGES:
        draft = compose(facts, language)
        assert draft.sentences, "a draft always says what was bought and when"
        for sentence in draft.sentences:
            assert sentence.fact_ids and all(i in by_id for i in sentence.fact_ids)
            cited = [by_id[i] for i in sentence.fact_ids]
            # The sentence is exactly its facts rendered, nothing else.
            assert sentence.text == render([f.kind for f in cited], facts, language)
            if any(f.kind == "owner_note" for f in cited):
                assert sentence.text == by_id["owner_note"].values["text"]
                continue
            strings = [str(v) for f in cited for v in f.values.values() if isinstance(v, str)]
            numbers = {format_number(v) for f in cited for v in f.values.values() if not isinstance(v, str)}
            for stated in _numbers_stated(sentence.text, strings):
                assert stated in numbers, (stated, sentence.text, cited)
            if "owner_rating" not in sentence.fact_ids:
                lowered = sentence.text.lower()
                assert not any(word in lowered for word in RATING_WORDS), sentence.text
        rating_sentences = [s for s in draft.sentences if "owner_rating" in s.fact_ids]
        if owner.rating is None:
            assert "owner_rating" not in by_id and not rating_sentences
        else:
            assert len(rating_sentences) == 1 and str(owner.rating) in rating_sentences[0].text
        assert all(len(chip) <= 40 for chip in fact_chips(facts, language))


def test_a_measured_history_reads_as_expected() -> None:
    added = T0
    stay = StayRecord(
        added_at=added,
        removed_at=added + timedelta(days=9, hours=3),
        outcome="used_up",
        freshness_at_removal="fresh",
        temperatures=(
            TempSpan(added, added + timedelta(days=8), 3.0),
            TempSpan(added + timedelta(days=8), added + timedelta(days=8, hours=2), 9.5),
            TempSpan(added + timedelta(days=8, hours=2), added + timedelta(days=10), 3.5),
        ),
    )
    facts = gather_facts(Purchase("Whole milk 1 L", T0 + timedelta(days=8), 2), stay, OwnerInput(), T0)
    kinds = [f.kind for f in facts]
    assert kinds == ["product", "bought_at", "lasted", "storage_temp", "excursion", "freshness_end", "repurchases"]
    en = compose(facts, "en").text
    assert en == (
        "I bought Whole milk 1 L on 2026-10-09. The one before lasted 9 days in my fridge. "
        "My fridge kept it between 3.0 °C and 9.5 °C, 3.1 °C on average. "
        "It spent 2.0 hours warmer than 4.0 °C, at most 9.5 °C. It was still fresh when we finished it. "
        "I had ordered it 2 times before."
    )
    zh = compose(facts, "zh").text
    assert zh.startswith("我在2026-10-09买了Whole milk 1 L。上一份在我的冰箱里放了9天。")
    assert "评分" not in zh and "rating" not in en


def test_no_stay_no_measured_claims_and_the_owner_adds_facts() -> None:
    facts = gather_facts(Purchase("Eggs", T0, 0), None, OwnerInput(note="  Great  eggs! ", rating=4), T0)
    assert [f.kind for f in facts] == ["product", "bought_at", "owner_note", "owner_rating"]
    assert [f.source for f in facts] == ["order", "order", "owner", "owner"]
    en = compose(facts, "en")
    assert [s.fact_ids for s in en.sentences] == [("product", "bought_at"), ("owner_rating",), ("owner_note",)]
    assert en.text == "I bought Eggs on 2026-10-01. My rating: 4 out of 5. Great eggs!"


def test_a_thrown_away_item_states_no_freshness_at_the_end() -> None:
    stay = StayRecord(T0, T0 + timedelta(days=3), "thrown_away", "expired")
    kinds = [f.kind for f in gather_facts(Purchase("Milk", T0, 0), stay, OwnerInput(), T0)]
    assert "freshness_end" not in kinds and "lasted" in kinds
