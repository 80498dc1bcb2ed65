"""What the label reader reports about one label: a checked GTIN, its date and kind, its batch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal, TypedDict

from freshtap.gtin import is_valid_gtin14

__all__ = ["ExpiryKind", "LabelJson", "LabelRead"]

ExpiryKind = Literal["expiry", "best_before"]
"""`expiry`: GS1 AI 17 (use by / expiration); `best_before`: GS1 AI 15."""


class LabelJson(TypedDict):
    """One label as `freshtap device scan --json` prints it (CONTRACT.md)."""

    gtin: str
    label_expiry: str | None
    expiry_kind: ExpiryKind | None
    batch: str | None


@dataclass(frozen=True)
class LabelRead:
    """One decoded label. Construction refuses a GTIN with a wrong check digit."""

    gtin: str
    """14 digits, check digit verified."""
    label_expiry: date | None
    expiry_kind: ExpiryKind | None
    batch: str | None

    def __post_init__(self) -> None:
        if not is_valid_gtin14(self.gtin):
            raise ValueError(f"not a valid GTIN-14: {self.gtin!r}")
        if (self.label_expiry is None) != (self.expiry_kind is None):
            raise ValueError("label_expiry and expiry_kind are given together or not at all")

    def to_json(self) -> LabelJson:
        """The contract's JSON object for this label (dates as `YYYY-MM-DD`)."""
        return {
            "gtin": self.gtin,
            "label_expiry": None if self.label_expiry is None else self.label_expiry.isoformat(),
            "expiry_kind": self.expiry_kind,
            "batch": self.batch,
        }
