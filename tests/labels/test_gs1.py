"""Interpreting decoded text: GS1 Digital Link, element strings and HRI; refusing bad codes."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from freshtap.device.labels import (
    DecodedSymbol,
    FixedDecoder,
    LabelRead,
    interpret,
    interpret_text,
    read_labels,
)
from freshtap.firmware_mock.camera import Package, digital_link_uri, element_string_hri
from freshtap.gtin import check_digit

from .truth import expected_read

GTIN = "09506000134352"
BAD_GTIN = "09506000134353"
GS = "\x1d"
NOV25 = date(2026, 11, 25)


def read(
    gtin: str = GTIN, expiry: date | None = None, kind: str | None = None, batch: str | None = None
) -> LabelRead:
    return LabelRead(gtin=gtin, label_expiry=expiry, expiry_kind=kind, batch=batch)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "sid", "expected"),
    [
        ("https://id.gs1.org/01/09506000134352/10/ABC123?17=261125", "]Q1",
         read(expiry=date(2026, 11, 25), kind="expiry", batch="ABC123")),
        ("https://id.gs1.org/01/09506000134352?15=261201", "]Q1",
         read(expiry=date(2026, 12, 1), kind="best_before")),
        ("https://example.com/01/09506000134352", "]Q1", read()),
        ("https://id.gs1.org/01/9506000134352/10/A%2FB?17=261125", "]Q1",  # GTIN-13, percent-encoded batch
         read(expiry=date(2026, 11, 25), kind="expiry", batch="A/B")),
        (f"010950600013435210LOT7{GS}17261125", "]d2", read(expiry=NOV25, kind="expiry", batch="LOT7")),
        ("01095060001343521526112510LOT7", "]Q3", read(expiry=NOV25, kind="best_before", batch="LOT7")),
        ("(01)09506000134352(17)261125(10)LOT7", "]d1", read(expiry=NOV25, kind="expiry", batch="LOT7")),
        ("(01)09506000134352(15)261125", "]Q1", read(expiry=date(2026, 11, 25), kind="best_before")),
    ],
)
def test_reads_digital_link_element_strings_and_hri(text: str, sid: str, expected: LabelRead) -> None:
    assert interpret_text(text, sid) == expected
    assert interpret(DecodedSymbol(text=text, symbology_identifier=sid)) == expected


def test_ai17_and_ai15_are_told_apart_and_expiry_wins_when_both_are_present() -> None:
    both = interpret_text("https://id.gs1.org/01/09506000134352?15=261120&17=261125")
    assert both == read(expiry=date(2026, 11, 25), kind="expiry")
    assert interpret_text("0109506000134352152611201726112", "]d2") is None  # truncated AI 17
    assert interpret_text("01095060001343521526112017261125", "]d2") == both
    best_before = read(expiry=date(2026, 11, 20), kind="best_before")
    assert interpret_text("010950600013435215261120", "]d2") == best_before


@pytest.mark.parametrize(
    ("digits", "expected"),
    [
        ("261100", date(2026, 11, 30)),
        ("261200", date(2026, 12, 31)),
        ("260200", date(2026, 2, 28)),
        ("280200", date(2028, 2, 29)),  # leap year
        ("280229", date(2028, 2, 29)),
    ],
)
def test_day_00_is_the_last_day_of_the_month(digits: str, expected: date) -> None:
    assert interpret_text(f"https://id.gs1.org/01/{GTIN}?17={digits}") == read(expiry=expected, kind="expiry")
    assert interpret_text(f"01{GTIN}15{digits}", "]d2") == read(expiry=expected, kind="best_before")
    assert interpret_text(f"(01){GTIN}(17){digits}", "]d1") == read(expiry=expected, kind="expiry")


@pytest.mark.parametrize(
    "digits", ["260230", "270229", "261301", "260431", "261132", "260000", "26113", "2611251"]
)
def test_impossible_dates_are_refused_in_every_form(digits: str) -> None:
    assert interpret_text(f"https://id.gs1.org/01/{GTIN}?17={digits}") is None
    assert interpret_text(f"https://id.gs1.org/01/{GTIN}?15={digits}") is None
    assert interpret_text(f"01{GTIN}17{digits}", "]d2") is None
    assert interpret_text(f"(01){GTIN}(15){digits}", "]d1") is None


@pytest.mark.parametrize(
    ("text", "sid"),
    [
        (f"https://id.gs1.org/01/{BAD_GTIN}/10/ABC123?17=261125", "]Q1"),
        (f"https://id.gs1.org/01/{BAD_GTIN[1:]}", "]Q1"),
        (f"01{BAD_GTIN}17261125", "]d2"),
        (f"01{BAD_GTIN}17261125", "]Q3"),
        (f"(01){BAD_GTIN}(17)261125", "]d1"),
    ],
)
def test_a_wrong_check_digit_is_refused(text: str, sid: str) -> None:
    assert interpret_text(text, sid) is None


@pytest.mark.parametrize(
    ("text", "sid"),
    [
        (GTIN, "]Q1"),  # bare digits in a plain QR code are not GS1 data
        (f"01{GTIN}17261125", "]Q1"),  # element strings without FNC1 in first position
        (f"01{GTIN}17261125", "]d1"),
        ("hello fridge", "]Q1"),
        ("https://example.com/products/42", "]Q1"),
        ("(00)095060001343520007", "]d1"),  # an SSCC, no GTIN
        ("0209506000134352", "]d2"),  # AI 02 (contained GTIN) is not the item's own GTIN
        (f"01{GTIN}1726112517261126", "]d2"),  # two different expiry dates
        ("", ""),
    ],
)
def test_text_that_is_not_a_gs1_item_label_is_not_read(text: str, sid: str) -> None:
    assert interpret_text(text, sid) is None


def test_label_read_refuses_an_invalid_gtin_and_half_a_date() -> None:
    with pytest.raises(ValueError, match="GTIN"):
        read(gtin=BAD_GTIN)
    with pytest.raises(ValueError, match="GTIN"):
        read(gtin="9506000134352")
    with pytest.raises(ValueError, match="together"):
        read(expiry=date(2026, 11, 25))


def test_label_read_json_is_the_contract_shape() -> None:
    assert read(expiry=date(2026, 11, 25), kind="expiry", batch="ABC123").to_json() == {
        "gtin": GTIN, "label_expiry": "2026-11-25", "expiry_kind": "expiry", "batch": "ABC123",
    }
    assert read().to_json() == {"gtin": GTIN, "label_expiry": None, "expiry_kind": None, "batch": None}


def test_read_labels_keeps_good_symbols_and_drops_bad_ones_through_any_decoder() -> None:
    decoder = FixedDecoder([
        DecodedSymbol(f"https://id.gs1.org/01/{GTIN}?17=261125", "]Q1"),
        DecodedSymbol(f"https://id.gs1.org/01/{BAD_GTIN}?17=261125", "]Q1"),
        DecodedSymbol(f"01{GTIN}17260230", "]d2"),
        DecodedSymbol(f"01{GTIN}17261125", "]d2"),
    ])
    assert read_labels(None, decoder) == [read(expiry=date(2026, 11, 25), kind="expiry")] * 2  # type: ignore[arg-type]


def fnc1_element_strings(package: Package) -> str:
    """As a scanner sends GS1 DataMatrix data: batch first, so it needs a GS before the date."""
    data = f"01{package.gtin}"
    if package.batch is not None:
        data += f"10{package.batch}{GS}"
    if package.expiry is not None:
        data += ("17" if package.expiry_kind == "expiry" else "15") + f"{package.expiry:%y%m%d}"
    return data


gtins = st.text("0123456789", min_size=13, max_size=13).map(lambda body: body + str(check_digit(body)))
dates = st.dates(min_value=date(2024, 1, 1), max_value=date(2060, 12, 31))
batches = st.none() | st.text("ABCXYZ0189-./", min_size=1, max_size=20)
packages = st.builds(
    Package, gtin=gtins, name=st.just("item"), expiry=st.none() | dates,
    expiry_kind=st.sampled_from(["expiry", "best_before"]), batch=batches,
)


@settings(max_examples=150, deadline=None)
@given(packages)
def test_what_the_camera_encodes_is_what_the_reader_reports(package: Package) -> None:
    expected = expected_read(package)
    assert interpret_text(digital_link_uri(package), "]Q1") == expected
    assert interpret_text(element_string_hri(package), "]d1") == expected
    assert interpret_text(fnc1_element_strings(package), "]d2") == expected


@settings(max_examples=100, deadline=None)
@given(packages, st.integers(1, 9))
def test_no_wrong_check_digit_ever_gets_through(package: Package, offset: int) -> None:
    wrong = package.gtin[:-1] + str((int(package.gtin[-1]) + offset) % 10)
    assert interpret_text(digital_link_uri(package).replace(package.gtin, wrong), "]Q1") is None
    assert interpret_text(element_string_hri(package).replace(package.gtin, wrong), "]d1") is None


@settings(max_examples=100, deadline=None)
@given(dates, st.sampled_from(["17", "15"]))
def test_month_end_written_as_day_00_reads_as_the_month_end(day: date, ai: str) -> None:
    month_end = (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    text = f"01{GTIN}{ai}{month_end:%y%m}00"
    result = interpret_text(text, "]d2")
    assert result is not None and result.label_expiry == month_end
