"""Pages of the social channels that live on this server (HTML, outside the JSON API).

- `/feed`: what the local sink posted, newest first: the embedded default's stand-in for a public
  social timeline. It shows only posts, which the owners approved for publication; nothing else,
  each with its poster and, once the fridge sent it, its video.
- `/review-media/{media_id}`: a poster or video of an approved review (what the feed, the webhook's
  `url`s and the platforms fetch). Its id is random; media of a draft not approved is not served.
- `/share/{token}`: a post handed to the owner's phone (a Douyin share, a Xiaohongshu package),
  with a QR code; `/share/{token}/package.zip` (text and media) and `/share/{token}/media/{id}`.
  The random token is the only credential, as for `/pay/confirm/{token}`: it reaches the owner
  through their own door screen, and it opens this one post and nothing else.

Pages are server-rendered, with no script and no inline style (the CSP allows neither); the QR
code is an SVG `data:` image, which the CSP allows.
"""

from __future__ import annotations

import base64
import io
import zipfile
from html import escape
from typing import Annotated

import segno
from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse, Response
from sqlmodel import col, select

from freshtap.server.api.deps import ServicesDep
from freshtap.server.store.review_media_models import ReviewMedia
from freshtap.server.store.social_models import ReviewDraft
from freshtap.server.store.social_outbox_models import SocialHandoff, SocialLocalPost

router = APIRouter(tags=["social"], include_in_schema=False)

_CSS = (
    "body{font-family:system-ui,'WenQuanYi Micro Hei',sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem}"
    "article{border-bottom:1px solid #ddd;padding:1rem 0}.text{white-space:pre-wrap}"
    "time{color:#666;font-size:.85rem}img.qr{width:14rem;height:14rem}"
    ".media{display:flex;gap:.5rem;flex-wrap:wrap}.media img,.media video{width:16rem;max-width:100%;height:auto}"
)
_SUFFIX = {"poster": "png", "video_webm": "webm", "video_mp4": "mp4"}

Token = Annotated[str, Path(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
MediaId = Annotated[str, Path(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.-]+$")]


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape(title)}</title><link rel='stylesheet' href='/social.css'></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    return HTMLResponse(html, status_code=status, headers=headers)


def _qr(data: str) -> str:
    out = io.BytesIO()
    segno.make(data, error="m").save(out, kind="svg", scale=4, border=2, xmldecl=False)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode()


@router.get("/social.css")
def stylesheet() -> Response:
    return Response(_CSS, media_type="text/css", headers={"Cache-Control": "max-age=3600"})


@router.get("/feed")
def feed(services: ServicesDep) -> HTMLResponse:
    with services.sessions() as session:
        posts = session.exec(
            select(SocialLocalPost).order_by(col(SocialLocalPost.posted_at).desc()).limit(100)
        ).all()
    if not posts:
        return _page("freshtap feed", "<p class='empty'>Nothing posted yet.</p>")
    items = "".join(
        f"<article id='{escape(p.id)}' lang='{escape(p.language)}'>"
        f"<time datetime='{p.posted_at.isoformat()}'>{p.posted_at:%Y-%m-%d %H:%M} UTC</time>"
        f"<p class='text'>{escape(p.text)}</p>{_media_html(p.media)}"
        f"<p><a href='{escape(p.link)}' rel='nofollow noopener'>{escape(p.link)}</a></p></article>"
        for p in posts
    )
    return _page("freshtap feed", items)


def _media_html(media: list[dict[str, str]]) -> str:
    parts = []
    for m in media:
        src = f"/review-media/{escape(m['media_id'])}"
        if m["kind"] == "poster":
            parts.append(f"<img class='poster' src='{src}' alt='Review poster'>")
        elif m["kind"].startswith("video"):
            parts.append(
                f"<video class='video' controls muted playsinline preload='metadata'>"
                f"<source src='{src}' type='{escape(m['content_type'])}'></video>"
            )
    return f"<div class='media'>{''.join(parts)}</div>" if parts else ""


@router.get("/review-media/{media_id}")
def review_media(media_id: MediaId, services: ServicesDep) -> Response:
    with services.sessions() as session:
        row = session.get(ReviewMedia, media_id)
        draft = session.get(ReviewDraft, row.draft_id) if row is not None else None
        if row is None or draft is None or draft.status != "approved":
            return _page("Not found", "<p>No such media.</p>", 404)
        data, content_type = bytes(row.data), row.content_type
    return Response(data, media_type=content_type, headers={"Cache-Control": "public, max-age=86400"})


def _handoff(services: ServicesDep, token: str) -> SocialHandoff | None:
    with services.sessions() as session:
        return session.get(SocialHandoff, token)


@router.get("/share/{token}")
def share_page(token: Token, services: ServicesDep) -> HTMLResponse:
    handoff = _handoff(services, token)
    if handoff is None:
        return _page("Not found", "<p>This share link is not valid.</p>", 404)
    base = f"/share/{escape(token)}"
    media = "".join(
        f"<li><a href='{base}/media/{escape(m['media_id'])}'>{escape(m['kind'])}</a></li>" for m in handoff.media
    )
    if handoff.channel == "douyin" and handoff.open_url:
        action = (
            f"<p><img class='qr' alt='QR code: open in Douyin' src='{_qr(handoff.open_url)}'></p>"
            f"<p><a class='open' href='{escape(handoff.open_url)}'>Open in Douyin (抖音) to post</a></p>"
            "<p>Douyin shows the post for you to confirm; nothing is posted until you do.</p>"
        )
        title = "Share to Douyin"
    else:
        public = services.settings.resolved_public_url.rstrip("/")
        action = (
            f"<p><img class='qr' alt='QR code of this page' src='{_qr(public + base)}'></p>"
            f"<p><a class='package' href='{base}/package.zip'>Download the package (text and media)</a></p>"
            "<p>Open Xiaohongshu (小红书), start a note, and paste the text; add the poster and video.</p>"
        )
        title = "Ready to post on Xiaohongshu"
    body = (
        f"{action}<h2>{escape(handoff.title) or 'Text'}</h2><p class='text'>{escape(handoff.text)}</p>"
        + (f"<ul>{media}</ul>" if media else "")
    )
    return _page(title, body)


@router.get("/share/{token}/package.zip")
def share_package(token: Token, services: ServicesDep) -> Response:
    handoff = _handoff(services, token)
    if handoff is None:
        return _page("Not found", "<p>This share link is not valid.</p>", 404)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("note.txt", (f"{handoff.title}\n\n" if handoff.title else "") + handoff.text + "\n")
        for index, m in enumerate(handoff.media, start=1):
            try:
                data = services.social_relay.media.get(m["media_id"])
            except KeyError:
                continue
            package.writestr(f"{index:02d}-{m['kind']}.{_SUFFIX.get(m['kind'], 'bin')}", data)
    return Response(
        out.getvalue(),
        media_type="application/zip",
        headers={"Content-Disposition": "attachment; filename=freshtap-post.zip", "Cache-Control": "no-store"},
    )


@router.get("/share/{token}/media/{media_id}")
def share_media(token: Token, media_id: MediaId, services: ServicesDep) -> Response:
    handoff = _handoff(services, token)
    ref = next((m for m in handoff.media if m["media_id"] == media_id), None) if handoff is not None else None
    if ref is None:
        return _page("Not found", "<p>No such media.</p>", 404)
    try:
        data = services.social_relay.media.get(media_id)
    except KeyError:
        return _page("Not found", "<p>This media is no longer available.</p>", 404)
    return Response(data, media_type=ref["content_type"], headers={"Cache-Control": "no-store"})
