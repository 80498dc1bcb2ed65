"""The QR code the screen shows when an order needs the household's approval (bank authentication).

The order's `payment.next_action_url` is drawn with segno as SVG, so a phone can open it; only an
absolute http(s) URL of sensible length is drawn, anything else is refused.
"""

from __future__ import annotations

import io
from urllib.parse import urlsplit

import segno

__all__ = ["approval_qr_svg"]

_MAX_URL = 2000


def approval_qr_svg(url: str, *, title: str = "") -> bytes:
    """An SVG QR code of `url`; `ValueError` unless it is an absolute http(s) URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc or len(url) > _MAX_URL:
        raise ValueError("not an http(s) URL the screen will show")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise ValueError("URL holds spaces or control characters")
    qr = segno.make(url, error="m")
    out = io.BytesIO()
    qr.save(out, kind="svg", scale=6, border=2, xmldecl=False, title=title or None, dark="#000", light="#fff")
    return out.getvalue()
