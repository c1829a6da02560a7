"""Form list, form download, manifest and media, as ODK Collect fetches them."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.helpers import Api
from tests.openrosa import samples
from tests.openrosa.collect_device import CollectDevice, ProtocolError

LOGO = b"\x89PNG\r\n\x1a\n" + bytes(range(200))


def _state(admin: Api, project: int, form_id: str, state: str) -> None:
    response = admin.patch(f"/v1/projects/{project}/forms/{form_id}", json={"state": state})
    assert response.status_code == 200, response.get_json()


def test_collect_lists_and_downloads_only_assigned_open_forms(
    admin: Api, project: int, publish: Any, publish_xml: Any, phone: Any
) -> None:
    registration = publish("training_registration")
    pretest = publish("training_pretest")
    followup = publish("training_followup")
    unassigned = publish("consultation_record")
    media = publish_xml(samples.xform(samples.MEDIA_MD), {"logo.png": LOGO})
    device: CollectDevice = phone(registration, pretest, followup, media)
    _state(admin, project, pretest, "closing")
    _state(admin, project, followup, "closed")

    listed = device.form_list()

    assert [f.form_id for f in listed] == [registration, media]
    assert unassigned not in [f.form_id for f in listed]
    by_id = {f.form_id: f for f in listed}
    assert by_id[registration].version == "2026112801"
    assert by_id[registration].name  # the form's title
    assert by_id[registration].manifest_url is None  # no media, no manifest
    assert by_id[media].manifest_url is not None
    for form in listed:
        downloaded = device.download(form)  # checks every hash as Collect does
        assert hashlib.md5(downloaded.xml).hexdigest() == form.hash
    assert device.download(by_id[media]).media == {"logo.png": LOGO}
    # Every URL Collect called carried its deviceID, and none failed.
    assert all("deviceID=collect%3A" in url for _, url in device.requests)


def test_form_id_filter_and_device_id_after_an_existing_query(
    household: str, publish: Any, phone: Any
) -> None:
    other = publish("training_registration")
    device: CollectDevice = phone(household, other)
    reply = device.request("GET", device.server_url + f"/formList?formID={household}")
    assert reply.status == 200
    assert b"<formID>household</formID>" in reply.body
    assert other.encode() not in reply.body
    assert "?formID=household&deviceID=" in device.requests[-1][1]


def test_every_openrosa_response_has_the_headers(
    household: str, phone: Any, publish_xml: Any
) -> None:
    media = publish_xml(samples.xform(samples.MEDIA_MD), {"logo.png": LOGO})
    device: CollectDevice = phone(household, media)
    listed = {f.form_id: f for f in device.form_list()}
    assert listed[media].manifest_url is not None
    urls = [
        device.server_url + "/formList",
        listed[household].download_url,
        listed[media].manifest_url or "",
        device.server_url + "/submission",
    ]
    for url in urls:
        reply = device.request("GET", url)
        assert reply.status in (200, 204), url
        assert reply.headers["x-openrosa-version"] == "1.0"
        assert reply.headers["x-openrosa-accept-content-length"] == str(100 * 1024 * 1024)
        assert reply.headers["content-type"] == "text/xml; charset=utf-8"


def test_urls_are_absolute_behind_a_trusted_proxy(
    variant: Any, admin: Api, project: int, app_user: Any, publish_xml: Any
) -> None:
    media = publish_xml(samples.xform(samples.MEDIA_MD), {"logo.png": LOGO})
    token = app_user(media)["token"]
    proxied = variant(TRUST_PROXY=True)
    client = proxied.test_client()
    path = f"/v1/key/{token}/projects/{project}/formList"
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "survey.example.org"}
    body = client.get(path, headers=headers).get_data(as_text=True)
    prefix = f"https://survey.example.org/v1/key/{token}/projects/{project}/forms/with_media"
    assert f"<downloadUrl>{prefix}.xml</downloadUrl>" in body
    assert f"<manifestUrl>{prefix}/manifest</manifestUrl>" in body
    manifest = client.get(path.replace("formList", "forms/with_media/manifest"), headers=headers)
    assert f"<downloadUrl>{prefix}/attachments/logo.png</downloadUrl>" in manifest.get_data(
        as_text=True
    )
    # Without TRUST_PROXY the forwarded headers are ignored.
    plain = variant().test_client().get(path, headers=headers)
    assert "survey.example.org" not in plain.get_data(as_text=True)


def test_configured_base_url_wins(
    variant: Any, project: int, app_user: Any, household: str
) -> None:
    token = app_user(household)["token"]
    configured = variant(BASE_URL="https://odk.example.org/")
    body = configured.test_client().get(f"/v1/key/{token}/projects/{project}/formList")
    assert (
        f"<downloadUrl>https://odk.example.org/v1/key/{token}/projects/{project}/forms/"
        "household.xml</downloadUrl>" in body.get_data(as_text=True)
    )


def test_xml_special_characters_are_escaped(publish_xml: Any, phone: Any) -> None:
    markdown = samples.MEDIA_MD.replace("| with_media | 1", "| with_media | 1 & <2>")
    form_id = publish_xml(samples.xform(markdown), {"logo.png": LOGO})
    device: CollectDevice = phone(form_id)
    [listed] = device.form_list()
    assert listed.version == "1 & <2>"
    device.download(listed)


@pytest.mark.parametrize(
    "token_of",
    [
        lambda user: "not-a-token",
        lambda user: user["token"] + "x",
    ],
)
def test_unknown_token_is_403_with_a_message(
    client: FlaskClient, project: int, app_user: Any, household: str, token_of: Any
) -> None:
    token = token_of(app_user(household))
    for method, path in [
        ("GET", "formList"),
        ("GET", "forms/household.xml"),
        ("HEAD", "submission"),
        ("POST", "submission"),
    ]:
        response = client.open(f"/v1/key/{token}/projects/{project}/{path}", method=method)
        assert response.status_code == 403
        assert "WWW-Authenticate" not in response.headers
        assert response.headers["X-OpenRosa-Version"] == "1.0"
        if method != "HEAD":
            assert b'<message nature="error">' in response.data
            assert b"QR code" in response.data


def test_revoked_app_user_is_refused(admin: Api, project: int, household: str, phone: Any) -> None:
    device: CollectDevice = phone(household)
    assert device.form_list()
    users = admin.get(f"/v1/projects/{project}/app-users").get_json()
    admin.delete(f"/v1/projects/{project}/app-users/{users[0]['id']}")
    with pytest.raises(ProtocolError, match="server error 403"):
        device.form_list()


def test_token_of_another_project_is_refused(
    admin: Api, project: int, household: str, phone: Any
) -> None:
    device: CollectDevice = phone(household)
    other = admin.post("/v1/projects", json={"name": "Other"}).get_json()["id"]
    device.server_url = device.server_url.rsplit("/", 1)[0] + f"/{other}"
    reply = device.request("GET", device.server_url + "/formList")
    assert reply.status == 403
    assert reply.nature == "error"


def test_downloads_of_forms_not_offered_are_refused(
    admin: Api, project: int, household: str, publish: Any, phone: Any
) -> None:
    other = publish("training_registration")
    device: CollectDevice = phone(household)
    base = device.server_url + "/forms"
    not_assigned = device.request("GET", f"{base}/{other}.xml")
    assert not_assigned.status == 403
    assert "not assigned to this phone" in (not_assigned.message or "")
    missing = device.request("GET", f"{base}/nope.xml")
    assert missing.status == 404
    assert missing.nature == "error"
    _state(admin, project, household, "closing")
    closing = device.request("GET", f"{base}/{household}.xml")
    assert closing.status == 409
    assert "closed" in (closing.message or "")
    assert device.request("GET", f"{base}/{household}/attachments/x.png").status == 409


def test_unknown_paths_under_the_key_are_openrosa_404s(
    client: FlaskClient, project: int, app_user: Any, household: str
) -> None:
    token = app_user(household)["token"]
    for path in [
        f"/v1/key/{token}/projects/{project}/nothing",
        f"/v1/key/{token}/projects/abc/formList",
        f"/v1/key/{token}",
    ]:
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
        assert b'nature="error"' in response.data


def test_media_file_not_uploaded_is_left_out_of_the_manifest(
    admin: Api, project: int, phone: Any
) -> None:
    created = admin.post(
        f"/v1/projects/{project}/forms?publish=true",
        data=samples.xform(samples.MEDIA_MD),
        headers={"Content-Type": "application/xml"},
    )
    assert created.status_code == 200
    device: CollectDevice = phone("with_media")
    [listed] = device.form_list()
    assert listed.manifest_url is not None
    assert device.manifest(listed.manifest_url) == []
    missing = device.request("GET", listed.download_url.replace(".xml", "/attachments/logo.png"))
    assert missing.status == 404


def test_downloads_can_be_revalidated(household: str, phone: Any) -> None:
    device: CollectDevice = phone(household)
    [listed] = device.form_list()
    first = device.request("GET", listed.download_url)
    again = device.request(
        "GET", listed.download_url, extra={"If-None-Match": first.headers["etag"]}
    )
    assert again.status == 304
    assert again.body == b""
