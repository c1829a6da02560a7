"""Large submissions: split across requests at the size the server advertises, as Collect does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from collect import assets
from tests import live
from tests.webforms.conftest import Phone, Site
from tests.webforms.filling import attach_photo, send, size_of
from tests.webforms.forms import EN, camera_photo
from tests.workbooks import xlsx

pytestmark = pytest.mark.browser

LIMIT = 250_000  # bytes per request: one resized photo fits, two do not


@pytest.fixture(scope="module")
def server(
    bundle: assets.Bundle, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[live.Server]:
    settings = {"COLLECT_MAX_SUBMISSION_BYTES": str(LIMIT)}
    with live.serve(tmp_path_factory.mktemp("split"), env=settings) as running:
        yield running


def two_photos() -> bytes:
    return xlsx(
        [
            ("type", "name", f"label::{EN}", "parameters"),
            ("text", "village", "Village", None),
            ("image", "front", "Photo of the site", "max-pixels=1024"),
            ("image", "back", "Photo of the well", "max-pixels=1024"),
        ],
        settings=[("form_id", "version", "default_language"), ("two_photos", "1", EN)],
    )


def test_photos_over_the_advertised_size_go_in_two_requests(phone: Phone, site: Site) -> None:
    pid = site.project("Split")
    fid = site.upload(pid, two_photos())
    url = site.app_user_submission_url(pid, fid)
    phone.send_to(url)
    posts: list[Any] = []
    phone.page.on("request", lambda r: posts.append(r) if r.url.endswith(url) else None)
    phone.preview(pid, fid)
    phone.question("Village").locator("input").fill("Kpalimé")
    attach_photo(phone, "Photo of the site", camera_photo())
    attach_photo(phone, "Photo of the well", camera_photo(), "well.jpg")
    send(phone)
    phone.page.get_by_text("All submissions were sent.").wait_for()

    assert [p.method for p in posts] == ["HEAD", "POST", "POST"]
    [stored] = site.submissions(pid, fid)
    base = f"/v1/projects/{pid}/forms/{fid}/submissions/{stored['instanceId']}"
    files = site.call("GET", f"{base}/attachments").json()
    assert [f["exists"] for f in files] == [True, True]
    for f in files:
        assert max(size_of(site.get(f"{base}/attachments/{f['name']}"))) == 1024
    assert phone.problems == []


@pytest.mark.parametrize(
    ("xml", "sizes", "limit", "requests"),
    [
        (100, [], 1000, [[]]),  # no files: the XML alone
        (100, [5, 5, 5], 1000, [[0, 1, 2]]),
        (100, [5, 5, 5], 110, [[0, 1], [2]]),  # reaching the limit exactly still fits
        (100, [5, 5, 5], 109, [[0], [1], [2]]),
        (100, [500, 500], 150, [[0], [1]]),  # a file over the limit goes alone, as in Collect
        (0, [1] * 250, 10**9, [list(range(101)), list(range(101, 202)), list(range(202, 250))]),
    ],
)
def test_batches_follow_collects_rule(
    page_module: Any, xml: int, sizes: list[int], limit: int, requests: list[list[int]]
) -> None:
    """Collect ends a request when the next file would pass the limit, or after 101 files."""
    assert page_module("batches", xml, sizes, limit) == requests
