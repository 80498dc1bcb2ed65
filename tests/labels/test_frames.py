"""Reading labels in camera frames against ground truth: rates, and never a wrong GTIN or date."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

import freshtap.device.labels as labels
from freshtap.device.labels import ZxingDecoder, read_labels
from freshtap.firmware_mock.camera import Degradation, Package, render_frame, sample_packages

from .frames import TODAY, Frame, make_frames
from .truth import Tally


def tally(frames: list[Frame]) -> Tally:
    result = Tally()
    for packages, image in frames:
        result.add(packages, read_labels(image))
    return result


def test_public_surface_is_explicit() -> None:
    assert sorted(labels.__all__) == sorted(set(labels.__all__))
    for name in labels.__all__:
        assert hasattr(labels, name), name


def test_clean_frames_read_at_least_99_percent_and_never_wrong(clean_frames: list[Frame]) -> None:
    result = tally(clean_frames)
    assert result.expected == 240
    assert result.wrong == []
    assert result.rate >= 0.99, f"{result.correct}/{result.expected}"


def test_blurred_noisy_turned_frames_read_at_least_95_percent_and_never_wrong(
    degraded_frames: list[Frame],
) -> None:
    result = tally(degraded_frames)
    assert result.wrong == []
    assert result.rate >= 0.95, f"{result.correct}/{result.expected}"


@pytest.mark.parametrize(
    "degrade",
    [
        Degradation(rotation=20),
        Degradation(occlusion=0.25),
        Degradation(blur=1.6, noise=14, perspective=0.25),
        Degradation(blur=1.2, noise=10, rotation=12, perspective=0.2, occlusion=0.15),
    ],
    ids=["rotation", "occlusion", "hard-blur-noise-perspective", "everything"],
)
def test_hard_frames_may_miss_but_never_report_a_wrong_label(degrade: Degradation) -> None:
    result = tally(make_frames(3, degrade, count=6))
    assert result.wrong == []
    assert result.correct > 0


def test_both_code_kinds_and_both_date_kinds_are_read(clean_frames: list[Frame]) -> None:
    packages = [p for frame_packages, _ in clean_frames for p in frame_packages]
    reads = {r for _, image in clean_frames for r in read_labels(image)}
    by_gtin = {r.gtin: r for r in reads}
    for code in ("digital_link_qr", "gs1_datamatrix"):
        for kind in ("expiry", "best_before"):
            matching = [p for p in packages if p.code == code and p.expiry_kind == kind]
            assert matching, (code, kind)
            assert all(by_gtin[p.gtin].expiry_kind == kind for p in matching if p.gtin in by_gtin)


def misprint(packages: list[Package]) -> list[Package]:
    """Every third label with a wrong check digit, every third-but-one with 30 February."""
    faults = ("bad_check_digit", "impossible_date", None)
    return [dataclasses.replace(p, fault=faults[i % 3]) for i, p in enumerate(packages)]


def test_misprinted_gtins_and_dates_are_decoded_but_never_reported() -> None:
    result = Tally()
    decoded_bad = 0
    for seed in range(8):
        packages = misprint(sample_packages(4000 + seed, 12, today=TODAY))
        image = render_frame(packages, seed)
        reads = read_labels(image)
        result.add(packages, reads)
        faulty = {p.gtin for p in packages if p.fault is not None}
        misprinted = {
            p.gtin[:-1] + str((int(p.gtin[-1]) + 1) % 10) for p in packages if p.fault == "bad_check_digit"
        }
        assert not {r.gtin for r in reads} & (faulty | misprinted)
        texts = [s.text for s in ZxingDecoder().decode(image)]
        decoded_bad += sum(any(g in t for t in texts) for g in misprinted)
    assert result.wrong == []
    assert result.rate >= 0.99
    assert decoded_bad >= 30  # the codes were read fine; refusing them was the reader's decision


def test_month_end_printed_as_day_00_reads_as_the_month_end() -> None:
    month_ends = [
        Package(gtin=p.gtin, name=p.name, expiry=end, expiry_kind=p.expiry_kind, batch=p.batch, code=p.code,
                day_00=True)
        for p, end in zip(
            sample_packages(5, 8, today=TODAY),
            [date(2026, 11, 30), date(2026, 12, 31), date(2027, 2, 28), date(2028, 2, 29)] * 2,
            strict=True,
        )
    ]
    result = Tally()
    result.add(month_ends, read_labels(render_frame(month_ends, 5)))
    assert result.wrong == [] and result.correct == len(month_ends)
