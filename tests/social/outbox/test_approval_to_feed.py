"""End to end through the review part: an owner approves a review over HTTP; the approval stores the
poster; posts to channels that carry video wait for the fridge's video, which joins them when it is
uploaded; the relay (with the real consent check) posts once, and `/feed` shows text, poster and video.
Without a video the post goes out with the poster at the deadline, and a late video is not re-posted."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

from sqlmodel import select

from freshtap.media import RenderedVideo
from freshtap.server.store.social_outbox_models import SocialHandoff, SocialLocalPost, SocialOutboxEntry
from tests.server.conftest import Api
from tests.social.conftest import Reviewed, approve, draft_of, put_video


def _entries(api: Api) -> dict[str, SocialOutboxEntry]:
    with api.services.sessions() as session:
        return {e.channel: e for e in session.exec(select(SocialOutboxEntry)).all()}


def test_approved_review_waits_for_the_video_and_the_feed_shows_poster_and_video(
    api: Api, reviewed: Reviewed, review_video: RenderedVideo
) -> None:
    draft = draft_of(api, reviewed)
    approve(api, reviewed, draft, ["local", "xiaohongshu"])
    [poster] = _entries(api)["local"].payload["media"]
    assert poster["kind"] == "poster" and poster["content_type"] == "image/png"
    served = api.client.get(f"/review-media/{poster['media_id']}")
    assert served.status_code == 200 and served.content.startswith(b"\x89PNG")

    relay = api.services.social_relay
    waiting = relay.run_once()
    assert (waiting.sent, waiting.waiting_video) == (0, 2)  # the feed and the package wait for the video
    assert {e.attempts for e in _entries(api).values()} == {0}

    uploaded = put_video(api, reviewed.home.headers, draft["draft_id"], review_video.webm)
    assert uploaded.status_code == 201, uploaded.text
    video = uploaded.json()
    assert (video["kind"], video["width"], video["height"], video["duration_s"]) == ("video_webm", 720, 1280, 8.0)
    assert relay.run_once().sent == 2
    assert relay.run_once().claimed == 0
    with api.services.sessions() as session:
        [posted] = session.exec(select(SocialLocalPost)).all()
        [package] = session.exec(select(SocialHandoff)).all()
    assert [m["kind"] for m in posted.media] == ["poster", "video_webm"]
    assert draft["text"]["zh"].strip() in posted.text and "/r/" in posted.text
    feed = api.client.get("/feed")
    assert feed.status_code == 200 and posted.id in feed.text
    assert f"<img class='poster' src='/review-media/{poster['media_id']}'" in feed.text
    assert f"<source src='/review-media/{video['media_id']}' type='video/webm'>" in feed.text
    assert api.client.get(f"/review-media/{video['media_id']}").content == review_video.webm
    zipped = api.client.get(f"/share/{package.token}/package.zip")
    with zipfile.ZipFile(io.BytesIO(zipped.content)) as archive:
        names = archive.namelist()
        assert names == ["note.txt", "01-poster.png", "02-video_webm.webm"]
        assert archive.read("02-video_webm.webm") == review_video.webm

    again = put_video(api, reviewed.home.headers, draft["draft_id"], review_video.webm)
    assert again.status_code == 200 and again.json()["media_id"] == video["media_id"]  # idempotent
    mp4 = put_video(api, reviewed.home.headers, draft["draft_id"], review_video.mp4, "video/mp4")
    assert mp4.status_code == 201 and mp4.json()["kind"] == "video_mp4"
    assert relay.run_once().claimed == 0  # what was sent is not sent again
    with api.services.sessions() as session:
        assert [m["kind"] for m in session.exec(select(SocialLocalPost)).one().media] == ["poster", "video_webm"]


def test_without_a_video_the_post_goes_out_with_the_poster_at_the_deadline(
    api: Api, reviewed: Reviewed, review_video: RenderedVideo
) -> None:
    draft = draft_of(api, reviewed)
    approve(api, reviewed, draft, ["local"])
    relay = api.services.social_relay
    assert relay.run_once().waiting_video == 1
    api.clock.advance(timedelta(minutes=api.services.settings.reviews.video_wait_minutes - 1))
    assert relay.run_once().sent == 0
    api.clock.advance(timedelta(minutes=2))
    assert relay.run_once().sent == 1
    late = put_video(api, reviewed.home.headers, draft["draft_id"], review_video.webm)
    assert late.status_code == 201
    assert relay.run_once().claimed == 0
    with api.services.sessions() as session:
        assert [m["kind"] for m in session.exec(select(SocialLocalPost)).one().media] == ["poster"]
    assert _entries(api)["local"].status == "sent"
