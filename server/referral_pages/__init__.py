"""The public page behind a referral link (`/r/{code}`): the product, the review, its disclosure, a way to buy.

Server-rendered HTML with its own stylesheet and script (no inline script or style: the server's
Content-Security-Policy allows only `'self'`).
"""

from .page import render_page

__all__ = ["render_page"]
