"""Understanding the text of a GS1 code: GTIN (AI 01), expiry (AI 17), best before (AI 15), batch (AI 10).

biip parses Digital Link URIs, FNC1 element strings and parenthesised HRI text. On top of it this
module refuses, rather than guesses:

- a GTIN whose check digit is wrong (biip reports that in `gtin_error` but keeps the value);
- a date that is not a calendar date (30 February, month 13); day `00` is the last day of the
  month (GS1 General Specifications 7.12), and biip's date is checked against the six digits so it
  can never differ from what the label says (the century follows GS1's window of 49 years back and
  50 ahead of the current year, which biip takes from the wall clock);
- a code that gives one AI two different values, or has no AI 01;
- text that is not GS1 data: a plain QR code holding digits is not a GTIN.

A refused code yields None: the caller treats it as not read.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import date

from biip import BiipException
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from biip.gs1_element_strings import GS1ElementString
from biip.gs1_messages import GS1Message

from freshtap.gtin import is_valid_gtin14

from .decoder import DecodedSymbol
from .model import ExpiryKind, LabelRead

__all__ = ["GS1_SYMBOLOGY_IDENTIFIERS", "interpret", "interpret_text"]

GS1_SYMBOLOGY_IDENTIFIERS = frozenset({"]d2", "]d5", "]Q3", "]Q4"})
"""DataMatrix and QR with FNC1 in first position (with or without ECI): GS1 element strings."""

_DATE_AIS: tuple[tuple[str, ExpiryKind], ...] = (("17", "expiry"), ("15", "best_before"))


def _element_strings(text: str, symbology_identifier: str) -> list[GS1ElementString] | None:
    lowered = text[:8].lower()
    try:
        if lowered.startswith(("https://", "http://")):
            return GS1DigitalLinkURI.parse(text).element_strings
        if symbology_identifier in GS1_SYMBOLOGY_IDENTIFIERS:
            return GS1Message.parse(text).element_strings
        if text.startswith("("):
            return GS1Message.parse_hri(text).element_strings
    except (BiipException, ValueError):
        return None
    return None


def _gs1_date(element: GS1ElementString) -> date | None:
    """The date of a YYMMDD element, or None unless biip's reading matches the digits exactly."""
    digits = element.value
    if len(digits) != 6 or not digits.isascii() or not digits.isdigit() or element.date is None:
        return None
    yy, month, day = int(digits[0:2]), int(digits[2:4]), int(digits[4:6])
    found = element.date
    if found.year % 100 != yy or found.month != month:
        return None
    expected_day = calendar.monthrange(found.year, month)[1] if day == 0 else day
    return found if found.day == expected_day else None


def _by_ai(elements: Sequence[GS1ElementString]) -> dict[str, GS1ElementString] | None:
    """Elements keyed by AI; None when an AI repeats with a different value."""
    found: dict[str, GS1ElementString] = {}
    for element in elements:
        earlier = found.setdefault(element.ai.ai, element)
        if earlier.value != element.value:
            return None
    return found


def interpret_text(text: str, symbology_identifier: str = "") -> LabelRead | None:
    """The label in a code's text, or None when it is not GS1 data or fails a check.

    When a code carries both AI 17 and AI 15 (both must be valid), the expiry date is reported:
    it is the one that matters for safety.
    """
    elements = _element_strings(text, symbology_identifier)
    if elements is None:
        return None
    by_ai = _by_ai(elements)
    if by_ai is None or "01" not in by_ai:
        return None
    gtin_element = by_ai["01"]
    if gtin_element.gtin_error is not None or not is_valid_gtin14(gtin_element.value):
        return None

    label_expiry: date | None = None
    expiry_kind: ExpiryKind | None = None
    for ai, kind in reversed(_DATE_AIS):  # AI 17 last, so it wins over AI 15
        if ai in by_ai:
            parsed = _gs1_date(by_ai[ai])
            if parsed is None:
                return None
            label_expiry, expiry_kind = parsed, kind

    batch = by_ai["10"].value if "10" in by_ai else None
    return LabelRead(gtin=gtin_element.value, label_expiry=label_expiry, expiry_kind=expiry_kind, batch=batch)


def interpret(symbol: DecodedSymbol) -> LabelRead | None:
    """`interpret_text` for a decoded symbol."""
    return interpret_text(symbol.text, symbol.symbology_identifier)
