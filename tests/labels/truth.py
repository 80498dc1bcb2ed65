"""Ground truth for the label lane: what a correct reader reports for a rendered package."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from freshtap.device.labels import LabelRead
from freshtap.firmware_mock.camera import Package


def expected_read(package: Package) -> LabelRead | None:
    """The read a package's label should give; None for a deliberately misprinted label."""
    if package.fault is not None:
        return None
    kind = package.expiry_kind if package.expiry is not None else None
    return LabelRead(gtin=package.gtin, label_expiry=package.expiry, expiry_kind=kind, batch=package.batch)


@dataclass
class Tally:
    """Reads compared with ground truth over many frames."""

    expected: int = 0
    correct: int = 0
    wrong: list[LabelRead] | None = None

    def add(self, packages: Sequence[Package], reads: Iterable[LabelRead]) -> None:
        truth = Counter(r for r in map(expected_read, packages) if r is not None)
        got = Counter(reads)
        self.expected += sum(truth.values())
        self.correct += sum((truth & got).values())
        self.wrong = (self.wrong or []) + list((got - truth).elements())

    @property
    def rate(self) -> float:
        return self.correct / self.expected
