"""GTIN check digits (GS1 General Specifications, section 7.9.1)."""

from __future__ import annotations

__all__ = ["check_digit", "is_valid_gtin14", "to_gtin14"]


def check_digit(digits_without_check: str) -> int:
    """The GS1 mod-10 check digit for a string of digits (weights 3,1,3,... from the right)."""
    total = 0
    for position, char in enumerate(reversed(digits_without_check)):
        total += int(char) * (3 if position % 2 == 0 else 1)
    return (10 - total % 10) % 10


def is_valid_gtin14(value: object) -> bool:
    """True when `value` is 14 ASCII digits whose last digit is the right check digit."""
    if not isinstance(value, str) or len(value) != 14 or not value.isascii() or not value.isdigit():
        return False
    return check_digit(value[:-1]) == int(value[-1])


def to_gtin14(value: str) -> str:
    """Left-pad a GTIN-8/12/13/14 to 14 digits; `ValueError` if it is not a valid GTIN."""
    if not value.isascii() or not value.isdigit() or len(value) not in (8, 12, 13, 14):
        raise ValueError(f"not a GTIN: {value!r}")
    padded = value.zfill(14)
    if not is_valid_gtin14(padded):
        raise ValueError(f"bad GTIN check digit: {value!r}")
    return padded
