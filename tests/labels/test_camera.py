"""The emulated camera: deterministic frames, validated knobs, labels encoded as GS1 asks."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

import freshtap.firmware_mock.camera as camera
from freshtap.firmware_mock.camera import (
    MAX_PACKAGES,
    Degradation,
    Package,
    digital_link_uri,
    element_string_hri,
    render_frame,
    sample_packages,
)

from .frames import TODAY

MILK = Package(gtin="09506000134352", name="Whole milk 1 L", expiry=date(2026, 11, 25), batch="ABC123")


def test_public_surface_is_explicit() -> None:
    assert sorted(camera.__all__) == sorted(set(camera.__all__))
    for name in camera.__all__:
        assert hasattr(camera, name), name


def test_digital_link_puts_the_batch_in_the_path_and_the_date_in_the_query() -> None:
    assert digital_link_uri(MILK) == "https://id.gs1.org/01/09506000134352/10/ABC123?17=261125"
    best_before = Package(
        gtin=MILK.gtin, name="x", expiry=date(2026, 11, 30), expiry_kind="best_before", day_00=True
    )
    assert digital_link_uri(best_before) == "https://id.gs1.org/01/09506000134352?15=261100"
    assert digital_link_uri(Package(gtin=MILK.gtin, name="x", batch="A/1")) == (
        "https://id.gs1.org/01/09506000134352/10/A%2F1"
    )


def test_element_strings_put_the_variable_length_batch_last() -> None:
    assert element_string_hri(MILK) == "(01)09506000134352(17)261125(10)ABC123"


def test_faults_misprint_the_check_digit_or_the_date_but_not_the_truth() -> None:
    bad_digit = Package(gtin=MILK.gtin, name="x", expiry=MILK.expiry, fault="bad_check_digit")
    assert "/01/09506000134353?" in digital_link_uri(bad_digit)
    bad_date = Package(gtin=MILK.gtin, name="x", expiry=MILK.expiry, fault="impossible_date")
    assert element_string_hri(bad_date) == "(01)09506000134352(17)260230"
    assert bad_digit.gtin == bad_date.gtin == MILK.gtin


@pytest.mark.parametrize(
    "kwargs",
    [
        {"gtin": "09506000134353"},
        {"gtin": "9506000134352"},
        {"batch": "way-too-long-a-batch-code"},
        {"batch": "A B"},
        {"expiry": date(2026, 11, 25), "day_00": True},
        {"expiry": None, "fault": "impossible_date"},
        {"expiry": date(2101, 1, 1)},
    ],
)
def test_package_refuses_what_a_label_cannot_say(kwargs: dict[str, object]) -> None:
    fields: dict[str, object] = {"gtin": MILK.gtin, "name": "x", "expiry": MILK.expiry, **kwargs}
    with pytest.raises(ValueError):
        Package(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("knob", ["blur", "noise", "rotation", "perspective", "occlusion"])
def test_degradation_knobs_are_bounded(knob: str) -> None:
    with pytest.raises(ValueError, match=knob):
        Degradation(**{knob: -0.1})
    with pytest.raises(ValueError, match=knob):
        Degradation(**{knob: 1000.0})


def test_frames_are_deterministic_per_seed() -> None:
    packages = sample_packages(7, 6, today=TODAY)
    assert packages == sample_packages(7, 6, today=TODAY)
    degrade = Degradation(blur=0.8, noise=6, rotation=5, perspective=0.1, occlusion=0.1)
    first = render_frame(packages, 3, degrade)
    assert first.shape == (720, 1280, 3) and first.dtype == np.uint8
    assert np.array_equal(first, render_frame(packages, np.random.default_rng(3), degrade))
    assert not np.array_equal(first, render_frame(packages, 4, degrade))


def test_sample_packages_stays_near_today_with_both_codes_and_kinds() -> None:
    packages = sample_packages(11, 60, today=TODAY)
    assert {p.code for p in packages} == {"digital_link_qr", "gs1_datamatrix"}
    assert {p.expiry_kind for p in packages} == {"expiry", "best_before"}
    assert all(p.expiry is not None and 1 <= (p.expiry - TODAY).days <= 40 for p in packages)


def test_a_frame_holds_at_most_max_packages() -> None:
    render_frame([], 0)
    with pytest.raises(ValueError, match="at most"):
        render_frame([MILK] * (MAX_PACKAGES + 1), 0)
