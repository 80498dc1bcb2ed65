"""`PUT /api/v1/review-drafts/{id}/video` over the real app (SQLite and PostgreSQL): only the draft's
household, only once approved, only a real 720x1280 WebM/MP4 of 8-15 s, within the size cap, and
the same file twice is one video."""

from __future__ import annotations

from dataclasses import replace

import pytest

from freshtap.media import RenderedVideo, VideoSpec, render_video
from tests.server.conftest import Api
from tests.social.conftest import Reviewed, approve, draft_of, put_video, reviewed_order


@pytest.fixture(scope="module")
def small_video() -> RenderedVideo:
    return render_video(VideoSpec(product_name="Milk", offer="o", delivery="d", restock="r", duration_s=8.0,
                                  fps=10, size=(360, 640)))


def _problem(answer: object, status: int) -> dict[str, object]:
    response = answer  # an httpx.Response
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    body: dict[str, object] = response.json()  # type: ignore[attr-defined]
    return body


def test_only_the_households_fridge_may_upload_and_only_after_approval(
    api: Api, reviewed: Reviewed, review_video: RenderedVideo
) -> None:
    draft = draft_of(api, reviewed)
    draft_id = draft["draft_id"]
    assert "approved" in str(_problem(put_video(api, reviewed.home.headers, draft_id, review_video.webm), 409)["detail"])
    other = reviewed_order(api, reviewed.merchant, restock=False)
    _problem(put_video(api, other.home.headers, draft_id, review_video.webm), 404)
    _problem(put_video(api, {"Authorization": f"Bearer {reviewed.merchant.api_key}"}, draft_id,
                       review_video.webm), 404)
    _problem(put_video(api, {}, draft_id, review_video.webm), 401)
    _problem(put_video(api, reviewed.home.headers, "rvd_nosuchdraft", review_video.webm), 404)
    approve(api, reviewed, draft, ["local"])
    _problem(put_video(api, other.home.headers, draft_id, review_video.webm), 404)  # still not theirs
    assert put_video(api, reviewed.home.headers, draft_id, review_video.webm).status_code == 201


def test_a_skipped_review_takes_no_video(api: Api, reviewed: Reviewed, review_video: RenderedVideo) -> None:
    draft = draft_of(api, reviewed)
    assert api.client.post(f"/api/v1/review-drafts/{draft['draft_id']}/skip",
                           headers=reviewed.home.headers).status_code == 200
    assert "skipped" in str(_problem(put_video(api, reviewed.home.headers, draft["draft_id"],
                                               review_video.webm), 409)["detail"])


def test_what_is_not_a_review_video_is_refused(
    api: Api, reviewed: Reviewed, review_video: RenderedVideo, small_video: RenderedVideo
) -> None:
    draft = draft_of(api, reviewed)
    approve(api, reviewed, draft, ["local"])
    headers, draft_id = reviewed.home.headers, draft["draft_id"]
    _problem(put_video(api, headers, draft_id, b"\x89PNG\r\n\x1a\n", "image/png"), 415)
    _problem(put_video(api, headers, draft_id, review_video.webm, "application/octet-stream"), 415)
    assert "could not be read" in str(_problem(put_video(api, headers, draft_id, b"\x1aE\xdf\xa3" + b"junk" * 500),
                                               422)["detail"])
    assert "not video/mp4" in str(_problem(put_video(api, headers, draft_id, review_video.webm, "video/mp4"),
                                           422)["detail"])
    assert "360x640" in str(_problem(put_video(api, headers, draft_id, small_video.webm), 422)["detail"])
    truncated = review_video.webm[: len(review_video.webm) // 3]
    _problem(put_video(api, headers, draft_id, truncated), 422)
    limit = api.services.settings.reviews.video_max_bytes
    _problem(put_video(api, headers, draft_id, review_video.webm + b"\0" * (limit - len(review_video.webm) + 1)), 413)

    def chunked() -> object:
        yield review_video.webm
        yield b"\0" * limit

    _problem(api.client.put(f"/api/v1/review-drafts/{draft_id}/video", content=chunked(),  # type: ignore[arg-type]
                            headers={**headers, "Content-Type": "video/webm"}), 413)
    # none of that was stored: the real one still goes in
    assert put_video(api, headers, draft_id, review_video.webm).status_code == 201


def test_the_same_video_twice_is_one_and_another_is_a_conflict(
    api: Api, reviewed: Reviewed, review_video: RenderedVideo
) -> None:
    draft = draft_of(api, reviewed)
    approve(api, reviewed, draft, ["local"])
    headers, draft_id = reviewed.home.headers, draft["draft_id"]
    first = put_video(api, headers, draft_id, review_video.webm)
    assert first.status_code == 201
    again = put_video(api, headers, draft_id, review_video.webm)
    assert again.status_code == 200 and again.json() == first.json()
    other = render_video(replace(VideoSpec(product_name="Milk", offer="other", delivery="d", restock="r",
                                           duration_s=8.0, fps=10)))
    _problem(put_video(api, headers, draft_id, other.webm), 409)
    assert put_video(api, headers, draft_id, review_video.mp4, "video/mp4").status_code == 201
    kinds = sorted(m.kind for m in api.services.review_media.media_of(draft_id))
    assert kinds == ["poster", "video_mp4", "video_webm"]
