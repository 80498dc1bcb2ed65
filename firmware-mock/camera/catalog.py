"""Seeded random packages for frames: plausible names, valid GTINs, dates near a given day."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import numpy as np

from freshtap.gtin import check_digit

from .package import CodeKind, Package

__all__ = ["sample_packages"]

_NAMES = (
    "Whole milk 1 L", "Greek yoghurt 500 g", "Butter 250 g", "Cheddar 200 g", "Orange juice 1 L",
    "Free-range eggs x6", "Smoked salmon 100 g", "Chicken breast 400 g", "Hummus 200 g",
    "Baby spinach 150 g", "Cream 200 ml", "Tofu 300 g", "Kimchi 400 g", "Fresh pasta 250 g",
)
_BATCH_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
_ALL_CODES: tuple[CodeKind, ...] = ("digital_link_qr", "gs1_datamatrix")


def _gtin(rng: np.random.Generator) -> str:
    # GS1 prefixes 950 (GS1 Global Office) and 0 + 13-digit; only the check digit has to be right
    body = "0950" + "".join(str(d) for d in rng.integers(0, 10, size=9))
    return body + str(check_digit(body))


def sample_packages(seed: int | np.random.Generator, count: int, *, today: date,
                    codes: Sequence[CodeKind] = _ALL_CODES) -> list[Package]:
    """`count` packages with valid codes; dates fall 1-40 days after `today`, a third best-before."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    packages = []
    for _ in range(count):
        batch = None
        if rng.random() < 0.8:
            batch = "".join(rng.choice(list(_BATCH_CHARS), size=int(rng.integers(3, 11))))
        packages.append(Package(
            gtin=_gtin(rng),
            name=str(rng.choice(_NAMES)),
            expiry=today + timedelta(days=int(rng.integers(1, 41))),
            expiry_kind="best_before" if rng.random() < 1 / 3 else "expiry",
            batch=batch,
            code=codes[int(rng.integers(len(codes)))],
        ))
    return packages
