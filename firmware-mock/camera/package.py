"""What the emulated camera sees on a shelf: a package and the label printed on it.

A `Package` is ground truth: its GTIN is always valid and its date is a real date. What its label
*encodes* may differ on purpose (`fault`), so tests can check that a reader refuses broken codes
instead of guessing.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

from freshtap.gtin import is_valid_gtin14

__all__ = ["CodeKind", "ExpiryKind", "LabelFault", "Package"]

ExpiryKind = Literal["expiry", "best_before"]
"""GS1 AI 17 (expiry / use by) or AI 15 (best before)."""

CodeKind = Literal["digital_link_qr", "gs1_datamatrix"]
"""A QR code holding a GS1 Digital Link URI, or a GS1 DataMatrix holding element strings."""

LabelFault = Literal["bad_check_digit", "impossible_date"]
"""A deliberately broken label: the GTIN's check digit is off by one, or the date is 30 February."""

# GS1 AI 10 is X..20 (the 82-character set); the mock keeps to a URI-safe subset of it.
_BATCH = re.compile(r"[A-Za-z0-9\-./]{1,20}")


@dataclass(frozen=True)
class Package:
    """One item on a shelf and the GS1 code on its label."""

    gtin: str
    name: str
    expiry: date | None = None
    expiry_kind: ExpiryKind = "expiry"
    batch: str | None = None
    code: CodeKind = "digital_link_qr"
    day_00: bool = False
    """Encode the date's day as `00` (GS1: the last day of that month); `expiry` must be a month end."""
    fault: LabelFault | None = None

    def __post_init__(self) -> None:
        if not is_valid_gtin14(self.gtin):
            raise ValueError(f"gtin must be a valid GTIN-14 (`fault` misprints it): {self.gtin!r}")
        if self.batch is not None and not _BATCH.fullmatch(self.batch):
            raise ValueError(f"batch must be 1-20 of A-Z a-z 0-9 - . /: {self.batch!r}")
        month_end = self.expiry is not None and (
            self.expiry.day == calendar.monthrange(self.expiry.year, self.expiry.month)[1]
        )
        if self.day_00 and not month_end:
            raise ValueError("day_00 needs an expiry on the last day of its month")
        if self.fault == "impossible_date" and self.expiry is None:
            raise ValueError("fault 'impossible_date' needs an expiry date to misprint")
        if self.expiry is not None and not 2000 <= self.expiry.year <= 2099:
            raise ValueError(f"GS1 dates are YYMMDD; keep expiry within 2000-2099: {self.expiry}")
