"""Form publishing through the JSON API: every sample workbook, XLS and XML, media and refusals."""

from __future__ import annotations

import io
import shutil

import pytest

from collect.domain.forms import xform
from tests import workbooks
from tests.helpers import SAMPLE_FORMS, XLSX, Api, form_bytes

XML_FORM = b"""<?xml version="1.0"?>
<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml"
  xmlns:jr="http://openrosa.org/javarosa">
 <h:head><h:title>Hand-written</h:title><model>
  <instance><data id="handwritten" version="7"><name/><meta><instanceID/></meta></data></instance>
  <bind nodeset="/data/name" type="string"/>
  <bind nodeset="/data/meta/instanceID" type="string" readonly="true()" jr:preload="uid"/>
 </model></h:head>
 <h:body><input ref="/data/name"><label>Name</label></input></h:body>
</h:html>"""


def _post(api: Api, pid: int, body: bytes, content_type: str = XLSX, query: str = "publish=true"):
    return api.post(
        f"/v1/projects/{pid}/forms?{query}", data=body, headers={"Content-Type": content_type}
    )


@pytest.mark.parametrize("name", SAMPLE_FORMS)
def test_every_sample_form_publishes_with_its_bytes_and_fields(app, admin: Api, project: int, name):
    response = admin.upload_form(project, name)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["xmlFormId"] == name
    assert body["state"] == "open"
    assert body["publishedAt"] is not None
    for key in (
        "projectId",
        "name",
        "version",
        "hash",
        "sha256",
        "keyId",
        "enketoId",
        "createdAt",
        "updatedAt",
    ):
        assert key in body
    workbook = admin.get(f"/v1/projects/{project}/forms/{name}.xlsx")
    assert workbook.status_code == 200
    assert workbook.data == form_bytes(name)
    xml = admin.get(f"/v1/projects/{project}/forms/{name}.xml")
    import hashlib

    assert hashlib.md5(xml.data).hexdigest() == body["hash"]
    parsed = xform.read_xform(xml.data)
    assert parsed.form_id == name
    assert {"English (en)", "French (fr)"} <= set(parsed.languages)
    versions = admin.get(f"/v1/projects/{project}/forms/{name}/versions").get_json()
    assert [v["version"] for v in versions] == [body["version"]]


def test_field_tree_keeps_types_choices_labels_and_sensitive(app, admin: Api, publish, project):
    publish("training_registration")
    from sqlalchemy import select

    from collect.storage.db import db
    from collect.storage.models import FormField

    with app.app_context():
        fields = {f.name: f for f in db.session.scalars(select(FormField))}
    assert fields["full_name"].sensitive
    assert fields["phone"].sensitive
    assert not fields["sex"].sensitive
    assert fields["sex"].control == "select1"
    assert [c["name"] for c in fields["sex"].choices] == ["female", "male", "other"]
    assert fields["sex"].choices[0]["labels"]["French (fr)"]
    assert fields["age"].type == "int"
    assert fields["disability"].calculate


def test_draft_then_publish_and_versions(admin: Api, project: int) -> None:
    assert _post(admin, project, workbooks.simple(version="1"), query="").status_code == 200
    form = admin.get(f"/v1/projects/{project}/forms/simple").get_json()
    assert form["publishedAt"] is None
    assert admin.post(f"/v1/projects/{project}/forms/simple/draft/publish").status_code == 200
    new = admin.post(
        f"/v1/projects/{project}/forms/simple/draft",
        data=workbooks.simple(version="2"),
        headers={"Content-Type": XLSX},
    )
    assert new.status_code == 200
    draft = admin.get(f"/v1/projects/{project}/forms/simple/draft").get_json()
    assert draft["version"] == "2"
    assert admin.post(f"/v1/projects/{project}/forms/simple/draft/publish").status_code == 200
    versions = admin.get(f"/v1/projects/{project}/forms/simple/versions").get_json()
    assert [v["version"] for v in versions] == ["2", "1"]
    assert admin.get(f"/v1/projects/{project}/forms/simple").get_json()["version"] == "2"


def test_duplicate_version_is_409_and_version_override_works(admin: Api, project: int) -> None:
    _post(admin, project, workbooks.simple(version="1"))
    admin.post(
        f"/v1/projects/{project}/forms/simple/draft",
        data=workbooks.simple(version="1"),
        headers={"Content-Type": XLSX},
    )
    clash = admin.post(f"/v1/projects/{project}/forms/simple/draft/publish")
    assert clash.status_code == 409
    assert "version" in clash.get_json()["message"]
    ok = admin.post(f"/v1/projects/{project}/forms/simple/draft/publish?version=1b")
    assert ok.status_code == 200
    xml = admin.get(f"/v1/projects/{project}/forms/simple.xml").data
    assert xform.read_xform(xml).version == "1b"


def test_first_publish_of_an_existing_form_id_is_409(admin: Api, project: int) -> None:
    assert _post(admin, project, workbooks.simple()).status_code == 200
    again = _post(admin, project, workbooks.simple(version="2"))
    assert again.status_code == 409
    assert "already exists" in again.get_json()["message"]


def test_xls_upload(admin: Api, project: int) -> None:
    body = workbooks.xls(
        [("type", "name", "label"), ("text", "name", "Name")],
        settings=[("form_id", "version"), ("legacy", "3")],
    )
    response = _post(admin, project, body, "application/vnd.ms-excel")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["xmlFormId"] == "legacy"
    assert admin.get(f"/v1/projects/{project}/forms/legacy.xls").data == body


def test_xml_upload_and_no_workbook(admin: Api, project: int) -> None:
    response = _post(admin, project, XML_FORM, "application/xml")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["xmlFormId"] == "handwritten"
    assert body["version"] == "7"
    assert admin.get(f"/v1/projects/{project}/forms/handwritten.xml").data == XML_FORM
    missing = admin.get(f"/v1/projects/{project}/forms/handwritten.xlsx")
    assert missing.status_code == 404


def test_form_id_fallback_header(admin: Api, project: int) -> None:
    body = workbooks.xlsx([("type", "name", "label"), ("text", "q", "Q")])
    refused = _post(admin, project, body)
    assert refused.status_code == 400
    assert refused.get_json()["details"]["problems"][0]["sheet"] == "settings"
    accepted = admin.post(
        f"/v1/projects/{project}/forms?publish=true",
        data=body,
        headers={"Content-Type": XLSX, "X-XlsForm-FormId-Fallback": "from_header"},
    )
    assert accepted.status_code == 200, accepted.get_json()
    assert accepted.get_json()["xmlFormId"] == "from_header"


def test_unknown_question_type_names_sheet_row_and_column(admin: Api, project: int) -> None:
    body = workbooks.xlsx(
        [("type", "name", "label"), ("text", "a", "A"), ("txt", "b", "B")],
        settings=[("form_id",), ("broken",)],
    )
    response = _post(admin, project, body)
    assert response.status_code == 400
    problem = response.get_json()["details"]["problems"][0]
    assert problem == {
        "sheet": "survey",
        "row": 3,
        "column": "type",
        "message": "Unknown question type 'txt'.",
    }
    assert "row 3" in response.get_json()["message"]


def test_missing_choices_sheet(admin: Api, project: int) -> None:
    body = workbooks.xlsx(
        [("type", "name", "label"), ("select_one yn", "q", "Q")],
        settings=[("form_id",), ("broken",)],
    )
    response = _post(admin, project, body)
    assert response.status_code == 400
    assert "choices" in response.get_json()["message"]
    assert response.get_json()["details"]["problems"][0]["sheet"] == "choices"


def test_warnings_need_ignore_warnings(admin: Api, project: int) -> None:
    body = workbooks.xlsx(
        [("type", "name", "label"), ("image", "photo", "Photo")],
        settings=[("form_id",), ("warned",)],
    )
    refused = _post(admin, project, body)
    assert refused.status_code == 400
    assert "ignoreWarnings" in refused.get_json()["message"]
    assert "max-pixels" in refused.get_json()["details"]["problems"][0]["message"]
    accepted = _post(admin, project, body, query="publish=true&ignoreWarnings=true")
    assert accepted.status_code == 200


@pytest.mark.skipif(shutil.which("java") is None, reason="ODK Validate needs Java")
def test_javarosa_rejects_what_pyxform_accepts(app_config, app, admin: Api, project: int) -> None:
    app.config["ODK_VALIDATE"] = "always"
    body = workbooks.xlsx(
        [("type", "name", "label", "relevant"), ("integer", "q", "Q", ". >>> 3")],
        settings=[("form_id",), ("badxpath",)],
    )
    response = _post(admin, project, body)
    assert response.status_code == 400
    message = response.get_json()["message"]
    assert "JavaRosa" in message
    assert ">>> 3" in message
    good = _post(admin, project, workbooks.simple())
    assert good.status_code == 200
    assert good.get_json()["validation"] == "passed"


def test_not_a_workbook_and_empty_body(admin: Api, project: int) -> None:
    junk = _post(admin, project, b"PK\x03\x04 this is not really a zip")
    assert junk.status_code == 400
    assert "workbook" in junk.get_json()["message"]
    empty = _post(admin, project, b"")
    assert empty.status_code == 400
    assert "empty" in empty.get_json()["message"]
    wrong_type = _post(admin, project, b"a,b", "text/csv")
    assert wrong_type.status_code == 400
    assert ".xlsx" in wrong_type.get_json()["message"]
    bad_xml = _post(admin, project, b"<h:html><unclosed>", "application/xml")
    assert bad_xml.status_code == 400
    assert admin.get(f"/v1/projects/{project}/forms").get_json() == []


def test_media_attachments_on_a_draft(admin: Api, project: int) -> None:
    body = workbooks.xlsx(
        [("type", "name", "label", "image"), ("note", "logo", "Welcome", "logo.png")],
        settings=[("form_id",), ("media",)],
    )
    assert _post(admin, project, body, query="").status_code == 200
    expected = admin.get(f"/v1/projects/{project}/forms/media/draft/attachments").get_json()
    assert [(a["name"], a["type"], a["exists"]) for a in expected] == [("logo.png", "image", False)]
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 100
    uploaded = admin.post(
        f"/v1/projects/{project}/forms/media/draft/attachments/logo.png",
        data=png,
        headers={"Content-Type": "image/png"},
    )
    assert uploaded.status_code == 200
    unknown = admin.post(
        f"/v1/projects/{project}/forms/media/draft/attachments/other.png", data=png
    )
    assert unknown.status_code == 404
    assert "logo.png" in unknown.get_json()["message"]
    assert admin.post(f"/v1/projects/{project}/forms/media/draft/publish").status_code == 200
    listed = admin.get(f"/v1/projects/{project}/forms/media/attachments").get_json()
    assert listed[0]["exists"] is True
    got = admin.get(f"/v1/projects/{project}/forms/media/attachments/logo.png")
    assert got.data == png
    # A new draft keeps the media that was uploaded before.
    admin.post(f"/v1/projects/{project}/forms/media/draft")
    carried = admin.get(f"/v1/projects/{project}/forms/media/draft/attachments").get_json()
    assert carried[0]["exists"] is True


def test_form_state(admin: Api, project: int, publish) -> None:
    publish("training_pretest")
    for state in ("closing", "closed", "open"):
        response = admin.patch(
            f"/v1/projects/{project}/forms/training_pretest", json={"state": state}
        )
        assert response.status_code == 200
        assert response.get_json()["state"] == state
    bad = admin.patch(f"/v1/projects/{project}/forms/training_pretest", json={"state": "shut"})
    assert bad.status_code == 400


def test_unknown_form_is_404(admin: Api, project: int) -> None:
    assert admin.get(f"/v1/projects/{project}/forms/nope").status_code == 404
    assert admin.get(f"/v1/projects/{project}/forms/nope.xml").status_code == 404


def test_oversized_upload_is_413(app, admin: Api, project: int) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = _post(admin, project, io.BytesIO(b"x" * 5000).getvalue())
    assert response.status_code == 413


def test_zip_bomb_workbook_is_refused(admin: Api, project: int) -> None:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * 250_000_000)
    response = _post(admin, project, buffer.getvalue())
    assert response.status_code == 413
    assert "unpacks to" in response.get_json()["message"]
