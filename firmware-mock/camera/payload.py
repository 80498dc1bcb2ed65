"""The data a package's label encodes: a GS1 Digital Link URI or a GS1 element string.

Digital Link (GS1 Digital Link URI syntax 1.x): the primary key and its qualifiers go in the path in
a fixed order (`/01/{gtin}/10/{batch}`); data attributes such as AI 17 and AI 15 go in the query
string (`?17=YYMMDD`). Element strings are written in parenthesised HRI form, which the DataMatrix
encoder turns into FNC1-led GS1 data, with the variable-length batch last so no separator is needed.
"""

from __future__ import annotations

from datetime import date
from urllib.parse import quote

from .package import Package

__all__ = ["DIGITAL_LINK_DOMAIN", "digital_link_uri", "element_string_hri", "gs1_date"]

DIGITAL_LINK_DOMAIN = "https://id.gs1.org"


def gs1_date(value: date, *, day_00: bool = False) -> str:
    """`YYMMDD`; with `day_00`, the day is written `00` (meaning the last day of the month)."""
    return f"{value.year % 100:02d}{value.month:02d}{0 if day_00 else value.day:02d}"


def _encoded_gtin(package: Package) -> str:
    if package.fault == "bad_check_digit":
        wrong = (int(package.gtin[-1]) + 1) % 10
        return package.gtin[:-1] + str(wrong)
    return package.gtin


def _encoded_date(package: Package) -> tuple[str, str] | None:
    """The date's AI and value, as printed (possibly misprinted) on the label."""
    if package.expiry is None:
        return None
    ai = "17" if package.expiry_kind == "expiry" else "15"
    if package.fault == "impossible_date":
        return ai, f"{package.expiry.year % 100:02d}0230"
    return ai, gs1_date(package.expiry, day_00=package.day_00)


def digital_link_uri(package: Package, domain: str = DIGITAL_LINK_DOMAIN) -> str:
    """E.g. `https://id.gs1.org/01/09506000134352/10/ABC123?17=261125`."""
    uri = f"{domain}/01/{_encoded_gtin(package)}"
    if package.batch is not None:
        uri += f"/10/{quote(package.batch, safe='')}"
    dated = _encoded_date(package)
    if dated is not None:
        uri += f"?{dated[0]}={dated[1]}"
    return uri


def element_string_hri(package: Package) -> str:
    """E.g. `(01)09506000134352(17)261125(10)ABC123`."""
    hri = f"(01){_encoded_gtin(package)}"
    dated = _encoded_date(package)
    if dated is not None:
        hri += f"({dated[0]}){dated[1]}"
    if package.batch is not None:
        hri += f"(10){package.batch}"
    return hri
