"""Sending from the browser: answers kept offline in an outbox, then sent once, as by Collect."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.webforms.conftest import Phone, Site
from tests.webforms.filling import fill_site_check, send, stored_answer

pytestmark = pytest.mark.browser


def test_a_submission_is_posted_as_collect_posts_it(phone: Phone, site: Site) -> None:
    pid, fid = site.site_check("Sending")
    url = site.app_user_submission_url(pid, fid)
    phone.send_to(url)
    phone.preview(pid, fid)
    fill_site_check(phone, "Kara", water="Yes")
    phone.question("Where does the water come from?").locator("input").fill("A well")
    with phone.page.expect_request(lambda r: r.method == "POST" and r.url.endswith(url)) as sent:
        send(phone)
    phone.page.get_by_text("All submissions were sent.").wait_for()

    # Chromium does not show a FormData body with files to Playwright: the server's record
    # of what arrived stands for it (it accepts the XML only as part xml_submission_file).
    headers = sent.value.headers
    assert headers.get("x-openrosa-version") == "1.0"
    assert headers["content-type"].startswith("multipart/form-data; boundary=")
    [stored] = site.submissions(pid, fid)
    xml = site.get(f"/v1/projects/{pid}/forms/{fid}/submissions/{stored['instanceId']}.xml")
    text = xml.decode()
    for answer in ("<village>Kara</village>", "<water>yes</water>", "<source>A well</source>"):
        assert answer in text, text
    assert phone.problems == []


def test_offline_submissions_wait_in_the_browser_and_arrive_once(phone: Phone, site: Site) -> None:
    pid, fid = site.site_check("Offline")
    phone.send_to(site.app_user_submission_url(pid, fid))
    phone.preview(pid, fid)
    phone.offline_ready()
    page = phone.page

    phone.context.set_offline(True)
    for village in ("Kara", "Lomé"):
        fill_site_check(phone, village)
        send(phone)
    page.get_by_text("2 submissions waiting to send.").wait_for()
    page.get_by_text("sent when the network returns").wait_for()
    phone.shot("offline-waiting")

    # The tab is reloaded with no network: the service worker serves page, bundle, form, logo.
    page.reload()
    page.locator(".odk-form").wait_for()
    logo = page.locator(".question-container img").first
    logo.wait_for()
    assert logo.evaluate("img => img.complete && img.naturalWidth > 0"), "the logo did not load"
    page.get_by_text("2 submissions waiting to send.").wait_for()
    phone.shot("offline-reloaded")
    assert site.submissions(pid, fid) == []

    phone.context.set_offline(False)
    page.get_by_text("All submissions were sent.").wait_for()
    stored = site.submissions(pid, fid)
    assert len(stored) == 2
    villages = sorted(stored_answer(site, pid, fid, s["instanceId"], "village") for s in stored)
    assert villages == ["Kara", "Lomé"]
    assert phone.problems == []
    assert phone.foreign_requests() == []


def test_a_send_whose_answer_was_lost_is_sent_again_safely(phones: Any, site: Site) -> None:
    # Playwright cannot intercept requests of a page a service worker controls: none here.
    phone: Phone = phones(service_workers="block")
    pid, fid = site.site_check("Lost answers")
    url = site.app_user_submission_url(pid, fid)
    phone.send_to(url)
    lost: list[int] = []

    def lose_the_first_answer(route: Any) -> None:
        if route.request.method != "POST" or lost:
            route.continue_()
            return
        answer = route.fetch()  # the server receives and stores it...
        lost.append(answer.status)
        route.abort("connectionreset")  # ...but the phone never hears back

    phone.page.route(re.compile(re.escape(url) + "$"), lose_the_first_answer)
    phone.preview(pid, fid)
    fill_site_check(phone, "Dapaong")
    with phone.page.expect_event("requestfailed", lambda r: r.method == "POST"):
        send(phone)
    assert lost == [201]
    phone.page.get_by_text("1 submission waiting to send.").wait_for()
    assert len(site.submissions(pid, fid)) == 1

    phone.page.get_by_role("button", name="Send now").click()
    phone.page.get_by_text("All submissions were sent.").wait_for()
    [stored] = site.submissions(pid, fid)
    assert stored_answer(site, pid, fid, stored["instanceId"], "village") == "Dapaong"
