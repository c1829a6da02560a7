"""Sending from the browser: answers kept offline in an outbox, then sent once, as by Collect."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.webforms.conftest import Phone, Site
from tests.webforms.forms import site_check

pytestmark = pytest.mark.browser


def fill_site_check(phone: Phone, village: str, *, water: str = "No", households: int = 12) -> None:
    phone.question("Village").locator("input").fill(village)
    phone.question("Is there clean water?").get_by_label(water, exact=True).check()
    field = phone.question("Households").locator("input")
    field.click()
    field.press_sequentially(str(households))
    field.blur()


def send(phone: Phone) -> None:
    """Press Send and wait until the form starts afresh (the answers are in the outbox)."""
    phone.page.get_by_role("button", name="Send", exact=True).click()
    phone.page.wait_for_function(
        "() => [...document.querySelectorAll('.question-container input[type=text]')]"
        ".every(i => i.value === '')"
    )


def test_a_submission_is_posted_as_collect_posts_it(phone: Phone, site: Site) -> None:
    pid = site.project("Sending")
    fid = site.publish_with_media(pid, site_check(), {"logo.png": _logo()})
    url = site.app_user_submission_url(pid, fid)
    phone.send_to(url)
    phone.sign_in()
    phone.open_form(f"/projects/{pid}/forms/{fid}/preview")
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
    pid = site.project("Offline")
    fid = site.publish_with_media(pid, site_check(), {"logo.png": _logo()})
    phone.send_to(site.app_user_submission_url(pid, fid))
    phone.sign_in()
    path = f"/projects/{pid}/forms/{fid}/preview"
    phone.open_form(path)
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
    villages = sorted(_answer(site, pid, fid, s["instanceId"], "village") for s in stored)
    assert villages == ["Kara", "Lomé"]
    assert phone.problems == []
    assert phone.foreign_requests() == []


def test_a_send_whose_answer_was_lost_is_sent_again_safely(phones: Any, site: Site) -> None:
    # Playwright cannot intercept requests of a page a service worker controls: none here.
    phone: Phone = phones(service_workers="block")
    pid = site.project("Lost answers")
    fid = site.publish_with_media(pid, site_check(), {"logo.png": _logo()})
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
    phone.sign_in()
    phone.open_form(f"/projects/{pid}/forms/{fid}/preview")
    fill_site_check(phone, "Dapaong")
    send(phone)
    phone.page.get_by_text("1 submission waiting to send.").wait_for()
    assert lost == [201]
    assert len(site.submissions(pid, fid)) == 1

    phone.page.get_by_role("button", name="Send now").click()
    phone.page.get_by_text("All submissions were sent.").wait_for()
    [stored] = site.submissions(pid, fid)
    assert _answer(site, pid, fid, stored["instanceId"], "village") == "Dapaong"


def _answer(site: Site, pid: int, fid: str, instance_id: str, name: str) -> str:
    xml = site.get(f"/v1/projects/{pid}/forms/{fid}/submissions/{instance_id}.xml").decode()
    found = re.search(rf"<{name}>(.*?)</{name}>", xml)
    assert found, xml
    return found.group(1)


def _logo() -> bytes:
    from tests.webforms.forms import png

    return png()
