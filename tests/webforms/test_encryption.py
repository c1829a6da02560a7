"""Encrypted forms and photos: the browser sends what ODK Collect would, the server stores it."""

from __future__ import annotations

import re

import pytest

from tests.webforms import envelope
from tests.webforms.conftest import Phone, Site
from tests.webforms.filling import attach_photo, fill_site_check, send, size_of
from tests.webforms.forms import MAX_PIXELS, camera_photo

pytestmark = pytest.mark.browser


def test_an_encrypted_form_is_sealed_in_the_browser_and_opens_with_the_key(
    phone: Phone, site: Site
) -> None:
    private, public_key = envelope.key_pair()
    pid, fid = site.site_check("Encrypted", form_id="sealed_check", public_key=public_key)
    phone.send_to(site.app_user_submission_url(pid, fid))
    phone.preview(pid, fid)
    fill_site_check(phone, "Sokodé", water="Yes", households=40)
    phone.question("Where does the water come from?").locator("input").fill("Borehole")
    attach_photo(phone, "Photo of the site", camera_photo())
    send(phone)
    phone.page.get_by_text("All submissions were sent.").wait_for()

    [stored] = site.submissions(pid, fid)
    base = f"/v1/projects/{pid}/forms/{fid}/submissions/{stored['instanceId']}"
    manifest_xml = site.get(f"{base}.xml")
    assert b"Sokod" not in manifest_xml and b"Borehole" not in manifest_xml
    manifest = envelope.read_manifest(manifest_xml)
    assert (manifest.form_id, manifest.version) == ("sealed_check", "1")
    assert manifest.instance_id == stored["instanceId"]
    [photo_enc] = manifest.media
    assert photo_enc.endswith(".jpg.enc")
    assert manifest.xml_file == "submission.xml.enc"
    files = {
        name: site.get(f"{base}/attachments/{name}") for name in (photo_enc, "submission.xml.enc")
    }

    plain = envelope.decrypt(private, manifest, files)
    xml = plain["submission.xml"].decode()
    for answer in ("<village>Sokodé</village>", "<water>yes</water>", "<source>Borehole</source>"):
        assert answer in xml, xml
    assert re.search(r"<households>40</households>", xml), xml
    photo_name = photo_enc.removesuffix(".enc")
    assert f"<photo>{photo_name}</photo>" in xml, xml
    assert max(size_of(plain[photo_name])) == MAX_PIXELS
    assert phone.problems == []


def test_a_camera_photo_is_resized_to_the_forms_max_pixels(phone: Phone, site: Site) -> None:
    pid, fid = site.site_check("Photos")
    phone.send_to(site.app_user_submission_url(pid, fid))
    phone.preview(pid, fid)
    fill_site_check(phone, "Atakpamé")
    original = camera_photo((4000, 3000))
    attach_photo(phone, "Photo of the site", original)
    phone.shot("photo")
    send(phone)
    phone.page.get_by_text("All submissions were sent.").wait_for()

    [stored] = site.submissions(pid, fid)
    base = f"/v1/projects/{pid}/forms/{fid}/submissions/{stored['instanceId']}"
    xml = site.get(f"{base}.xml").decode()
    found = re.search(r"<photo>([^<]+)</photo>", xml)
    assert found, xml
    response = site.call("GET", f"{base}/attachments/{found.group(1)}")
    assert response.headers["content-type"] == "image/jpeg"
    photo = response.body()
    assert size_of(photo) == (MAX_PIXELS, MAX_PIXELS * 3 // 4)
    assert len(photo) < len(original)
    assert phone.problems == []
