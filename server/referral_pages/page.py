"""Renders the referral page from a `ReferralPage` (HTML, every value escaped)."""

# ruff: noqa: RUF001 - the Chinese strings use Chinese punctuation

from __future__ import annotations

from html import escape
from importlib import resources
from string import Template

from freshtap.server.services.referrals import ReferralPage

__all__ = ["ASSETS", "asset", "render_page"]

ASSETS = {"referral.css": "text/css; charset=utf-8", "referral.js": "text/javascript; charset=utf-8"}

_STRINGS = {
    "en": {
        "lang": "en",
        "title": "Recommended by a freshtap household",
        "review_heading": "What they wrote",
        "reviewed": "Approved by its author on",
        "sold_by": "Sold by",
        "buy_heading": "Buy it",
        "buy_help": "Sign in with your fridge's credential (from `freshtap admin provision-fridge`) and order "
        "with one tap; you can cancel within the cancellation window.",
        "credential": "Fridge credential",
        "buy": "Buy",
    },
    "zh": {
        "lang": "zh-CN",
        "title": "来自 freshtap 用户的推荐",
        "review_heading": "用户评价",
        "reviewed": "作者审阅同意于",
        "sold_by": "商家",
        "buy_heading": "购买",
        "buy_help": "用冰箱的凭据登录（由 `freshtap admin provision-fridge` 生成），一键下单；在取消期限内可以取消。",
        "credential": "冰箱凭据",
        "buy": "购买",
    },
}

_PAGE = Template(
    """<!doctype html>
<html lang="$lang">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$product — $title</title>
<link rel="stylesheet" href="/r/assets/referral.css">
<script src="/r/assets/referral.js" defer></script>
</head>
<body>
<main>
<p class="eyebrow">$title</p>
<h1 id="product">$product</h1>
<p class="price" id="price">$price</p>
<p class="merchant">$sold_by $merchant</p>
<section class="review">
<h2>$review_heading</h2>
$label_html
<blockquote id="review-text">$review</blockquote>
<p class="note" id="disclosure-note">$note</p>
<p class="meta">$reviewed $reviewed_at</p>
</section>
<section class="buy">
<h2>$buy_heading</h2>
<p>$buy_help</p>
<form id="buy-form" data-code="$code">
<label for="credential">$credential</label>
<input id="credential" name="credential" type="password" autocomplete="off" required>
<button type="submit" id="buy">$buy</button>
</form>
<p id="result" role="status"></p>
</section>
</main>
</body>
</html>
"""
)


def _money(amount_minor: int, currency: str) -> str:
    return f"{currency} {amount_minor / 100:.2f}"


def render_page(page: ReferralPage) -> str:
    strings = _STRINGS["zh" if page.language == "zh" else "en"]
    label = page.disclosure.label
    return _PAGE.substitute(
        {key: escape(value) for key, value in strings.items()},
        product=escape(page.product.name),
        price=escape(_money(page.product.price_minor, page.product.currency)),
        merchant=escape(page.merchant.name),
        label_html=f'<p class="label" id="disclosure-label">{escape(label)}</p>' if label else "",
        review=escape(page.review_text),
        note=escape(page.disclosure.note),
        reviewed_at=escape(page.reviewed_at),
        code=escape(page.code),
    )


def asset(name: str) -> bytes:
    return resources.files("freshtap.server.referral_pages.assets").joinpath(name).read_bytes()
