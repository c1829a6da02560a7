"""App users (devices): tokens, revocation, form assignment and the settings QR code."""

from __future__ import annotations

import base64
import io
import json
import zlib

import zxingcpp
from PIL import Image

from tests.helpers import Api


def decode_qr(png: bytes) -> dict[str, object]:
    """Read a QR code image back to Collect's settings JSON (base64, then zlib inflate)."""
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert results, "no QR code found in the image"
    settings: dict[str, object] = json.loads(zlib.decompress(base64.b64decode(results[0].text)))
    return settings


def test_create_list_and_revoke(admin: Api, project: int) -> None:
    created = admin.post(f"/v1/projects/{project}/app-users", json={"displayName": "Tablet 3"})
    assert created.status_code == 200
    body = created.get_json()
    assert body["type"] == "field_key"
    assert body["projectId"] == project
    assert len(body["token"]) >= 64
    listed = admin.get(f"/v1/projects/{project}/app-users").get_json()
    assert [a["displayName"] for a in listed] == ["Tablet 3"]
    assert admin.delete(f"/v1/projects/{project}/app-users/{body['id']}").status_code == 200
    assert admin.get(f"/v1/projects/{project}/app-users").get_json() == []
    assert admin.get(f"/v1/projects/{project}/app-users/{body['id']}/qr").status_code == 404


def test_display_name_is_required(admin: Api, project: int) -> None:
    response = admin.post(f"/v1/projects/{project}/app-users", json={})
    assert response.status_code == 400
    assert "displayName" in response.get_json()["message"]


def test_form_assignment_by_role_name_or_id(admin: Api, project: int, publish) -> None:
    publish("training_pretest")
    publish("training_posttest")
    device = admin.post(f"/v1/projects/{project}/app-users", json={"displayName": "T"}).get_json()
    base = f"/v1/projects/{project}/forms"
    assert (
        admin.post(f"{base}/training_pretest/assignments/app-user/{device['id']}").status_code
        == 200
    )
    assert admin.post(f"{base}/training_posttest/assignments/2/{device['id']}").status_code == 200
    again = admin.post(f"{base}/training_pretest/assignments/app-user/{device['id']}")
    assert again.status_code == 409
    wrong_role = admin.post(f"{base}/training_pretest/assignments/manager/{device['id']}")
    assert wrong_role.status_code == 400
    unknown_form = admin.post(f"{base}/nope/assignments/app-user/{device['id']}")
    assert unknown_form.status_code == 404


def test_qr_code_decodes_to_collect_settings(admin: Api, project: int, app_user) -> None:
    device = app_user()
    png = admin.get(f"/v1/projects/{project}/app-users/{device['id']}/qr")
    assert png.status_code == 200
    assert png.mimetype == "image/png"
    settings = decode_qr(png.data)
    assert set(settings) >= {"general", "admin", "project"}
    general = settings["general"]
    assert isinstance(general, dict)
    assert general["server_url"] == f"http://localhost/v1/key/{device['token']}/projects/{project}"
    assert settings["project"] == {"name": "Training of trainers 2026", "icon": "T"}
    svg = admin.get(f"/v1/projects/{project}/app-users/{device['id']}/qr?format=svg")
    assert svg.mimetype == "image/svg+xml"
    assert b"ODK Collect settings QR code" in svg.data


def test_qr_server_url_follows_a_trusted_proxy(app, admin: Api, project: int, app_user) -> None:
    from werkzeug.middleware.proxy_fix import ProxyFix

    app.wsgi_app = ProxyFix(app.wsgi_app, x_proto=1, x_host=1)
    device = app_user()
    png = admin.get(
        f"/v1/projects/{project}/app-users/{device['id']}/qr",
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "collect.example.org"},
    )
    general = decode_qr(png.data)["general"]
    assert isinstance(general, dict)
    assert str(general["server_url"]).startswith("https://collect.example.org/v1/key/")
