"""The differences from Central that pyodk's suite and Central's API document found, each pinned
down through the API on both databases. The pyodk-driven tests repeat them through gunicorn."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from flask import Flask, url_for
from sqlalchemy import select

from collect import create_app
from collect.domain.forms import draft_tokens, xform
from collect.errors import InvalidSubmission
from collect.storage.db import db
from collect.storage.models import Form
from collect.web import routing
from tests.central import forms
from tests.helpers import XLSX, Api

SPECIAL = forms.SPECIAL_ID
ENCODED = quote(SPECIAL, safe="")  # what pyodk sends: every slash as %2F, % as %25


def _upload(api: Api, pid: int, body: bytes, fallback: str | None = None, **query: str):
    headers = {"Content-Type": XLSX}
    if fallback is not None:
        headers["X-XlsForm-FormId-Fallback"] = fallback
    args = "&".join(f"{k}={v}" for k, v in {"ignoreWarnings": "true", **query}.items())
    return api.post(f"/v1/projects/{pid}/forms?{args}", data=body, headers=headers)


# X-XlsForm-FormId-Fallback is percent-decoded ----------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "expected"),
    [("uuid%3A5f1c-77", "uuid:5f1c-77"), ("%E2%9C%85", "✅"), ("plain_id", "plain_id")],
)
def test_the_fallback_id_is_percent_decoded(admin: Api, project: int, sent: str, expected: str):
    response = _upload(admin, project, forms.lookup_workbook("1"), sent, publish="true")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["xmlFormId"] == expected


def test_a_new_draft_of_a_dingbat_form_keeps_its_id(admin: Api, project: int):
    created = _upload(admin, project, forms.lookup_workbook("1"), "%E2%9C%85", publish="true")
    assert created.status_code == 200, created.get_json()
    draft = admin.post(
        f"/v1/projects/{project}/forms/%E2%9C%85/draft?ignoreWarnings=true",
        data=forms.lookup_workbook("2"),
        headers={"Content-Type": XLSX, "X-XlsForm-FormId-Fallback": "%E2%9C%85"},
    )
    assert draft.status_code == 200, draft.get_json()
    assert admin.get(f"/v1/projects/{project}/forms/%E2%9C%85/draft").get_json()["version"] == "2"


# Form ids with a slash are reachable, as in Central ---------------------------------------------


def test_a_form_id_with_slashes_is_reachable_at_every_route(admin: Api, project: int):
    created = _upload(admin, project, forms.lookup_workbook(form_id=SPECIAL))
    assert created.status_code == 200, created.get_json()
    assert created.get_json()["xmlFormId"] == SPECIAL
    base = f"/v1/projects/{project}/forms/{ENCODED}"
    csv = admin.post(f"{base}/draft/attachments/{forms.LOOKUP_CSV}", data=b"code,name\nN1,N\n")
    assert csv.status_code == 200, csv.get_json()
    assert admin.post(f"{base}/draft/publish").status_code == 200
    assert admin.get(base).get_json()["xmlFormId"] == SPECIAL
    assert b"'=+/*-2026%/%" in admin.get(f"{base}.xml").data
    xml = forms.lookup_submission(SPECIAL, "1", "uuid:slash-1").encode()
    sent = admin.post(f"{base}/submissions", data=xml, headers={"Content-Type": "text/xml"})
    assert sent.status_code == 200, sent.get_json()
    assert admin.get(f"{base}/submissions/uuid:slash-1").status_code == 200
    feed = admin.get(f"{base}.svc/Submissions").get_json()
    assert feed["@odata.context"].endswith(f"/forms/{ENCODED}.svc/$metadata#Submissions")
    # The same id sent with its slashes bare is another path, which names no form.
    assert admin.get(f"/v1/projects/{project}/forms/{SPECIAL}").status_code == 404


def test_an_instance_id_with_a_slash_is_reachable(admin: Api, project: int):
    assert _upload(admin, project, forms.upload_workbook(), publish="true").status_code == 200
    base = f"/v1/projects/{project}/forms/document_upload/submissions"
    xml = forms.upload_submission("uuid:a/b", "minutes.csv").encode()
    assert admin.post(base, data=xml, headers={"Content-Type": "text/xml"}).status_code == 200
    got = admin.get(f"{base}/uuid:a%2Fb")
    assert got.status_code == 200, got.get_json()
    assert got.get_json()["instanceId"] == "uuid:a/b"


def test_urls_built_for_an_id_keep_its_slash_inside_the_segment(app: Flask):
    with app.test_request_context():
        built = url_for("api.get_form", pid=3, xml_form_id=SPECIAL)
    assert built == "/v1/projects/3/forms/'=+%2F*-2026%25%2F%25"


def test_an_id_too_large_for_the_database_is_a_plain_404(admin: Api):
    # Found by the fuzz: the number reached the database, which refused it (a 500).
    for path in ("/v1/projects/77885744225508016128", "/v1/projects/2147483648/forms"):
        response = admin.get(path)
        assert response.status_code == 404, response.get_json()
        assert response.get_json()["code"] == 404.0
    largest = admin.get("/v1/projects/2147483647")  # routed, and no such project
    assert (largest.status_code, largest.get_json()["code"]) == (404, 404.1)
    # Under an app user's key, the phone still hears OpenRosa.
    device = admin.get("/v1/key/abc/projects/99999999999/formList")
    assert (device.status_code, device.mimetype) == (404, "text/xml")


@pytest.mark.parametrize(
    ("number", "routed"),
    [
        ("0", True),
        ("7", True),
        ("999999999", True),
        ("2147483647", True),
        ("2147483648", False),
        ("2200000000", False),
        ("9999999999", False),
        ("12345678901", False),
    ],
)
def test_the_id_pattern_is_exactly_the_integer_column(tmp_path, number: str, routed: bool):
    adapter = create_app({"DATA_DIR": str(tmp_path), "TESTING": True}).url_map.bind("localhost")
    assert adapter.test(f"/v1/projects/{number}", "GET") is routed


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        # gunicorn: RAW_URI as sent, PATH_INFO decoded
        ({"RAW_URI": "/f/a%2Fb/x?q=%2F", "PATH_INFO": "/f/a/b/x"}, "/f/a\x00b/x"),
        # an absolute-form request target
        ({"RAW_URI": "http://h/f/a%2fb", "PATH_INFO": "/f/a/b"}, "/f/a\x00b"),
        # mounted under a prefix
        (
            {"REQUEST_URI": "/app/f/a%2Fb", "SCRIPT_NAME": "/app", "PATH_INFO": "/f/a/b"},
            "/f/a\x00b",
        ),
        # nothing encoded: nothing to do
        ({"RAW_URI": "/f/a/b", "PATH_INFO": "/f/a/b"}, None),
        # a proxy rewrote the path: the raw target no longer describes it
        ({"RAW_URI": "/other/a%2Fb", "PATH_INFO": "/f/a/b"}, None),
        # no raw target at all
        ({"PATH_INFO": "/f/a/b"}, None),
    ],
)
def test_the_routing_is_used_only_when_it_matches_the_decoded_one(
    environ: dict[str, str], expected: str | None
):
    assert routing.segment_path(environ) == expected


# A bare `&` in a submission, as Central reads it -------------------------------------------------


def test_a_bare_ampersand_in_a_submission_is_read_as_central_reads_it(admin: Api, project: int):
    created = _upload(admin, project, forms.lookup_workbook("1"), "amp", publish="true")
    assert created.status_code == 200, created.get_json()
    iid = "new+~!@#$%^&*()_+=-✅&amp;&nbsp;"
    xml = forms.lookup_submission("amp", "1", iid).encode()
    base = f"/v1/projects/{project}/forms/amp/submissions"
    sent = admin.post(base, data=xml, headers={"Content-Type": "application/xml"})
    assert sent.status_code == 200, sent.get_json()
    # `&amp;` is an ampersand, `&nbsp;` (no XML entity) stays as written, a lone `&` is itself.
    stored_id = "new+~!@#$%^&*()_+=-✅&&nbsp;"
    assert sent.get_json()["instanceId"] == stored_id
    assert admin.get(f"{base}/{quote(stored_id, safe='')}.xml").data == xml  # kept as sent


@pytest.mark.parametrize(
    ("xml", "message"),
    [
        (b"<data id='f'>salt & pepper</data>", "'&' that is not written as '&amp;'"),
        (b"<data id='f&g'/>", "'&' that is not written as '&amp;'"),
        (b"<data id='f'>&nbsp;</data>", "XML entity that is not defined"),
    ],
)
def test_without_that_leniency_the_message_says_what_is_wrong(xml: bytes, message: str):
    with pytest.raises(InvalidSubmission, match=message) as raised:
        xform.parse_xml(xml, what="XForm")
    assert "DOCTYPE" not in raised.value.message


def test_leniency_keeps_refusing_doctypes_and_broken_xml():
    doctype = b'<!DOCTYPE d [<!ENTITY e "x">]><data id="f">&e; & more</data>'
    with pytest.raises(InvalidSubmission, match="DOCTYPE"):
        xform.parse_xml(doctype, what="submission", bare_ampersands=True)
    with pytest.raises(InvalidSubmission, match="not well-formed"):
        xform.parse_xml(b"<data id='f'>a & b<q></data>", what="submission", bare_ampersands=True)


# Central's codes for duplicates ------------------------------------------------------------------


def test_duplicates_answer_centrals_codes(admin: Api, project: int):
    body = forms.lookup_workbook(form_id="dup")
    assert _upload(admin, project, body, publish="true").status_code == 200
    again = _upload(admin, project, body)
    assert (again.status_code, again.get_json()["code"]) == (409, 409.3)

    xml = forms.lookup_submission("dup", "1", "uuid:dup-1").encode()
    base = f"/v1/projects/{project}/forms/dup"
    headers = {"Content-Type": "application/xml"}
    assert admin.post(f"{base}/submissions", data=xml, headers=headers).status_code == 200
    resent = admin.post(f"{base}/submissions", data=xml, headers=headers)
    assert (resent.status_code, resent.get_json()["code"]) == (409, 409.3)

    assert admin.post(f"{base}/draft").status_code == 200
    taken = admin.post(f"{base}/draft/publish")  # the draft still says version 1
    assert (taken.status_code, taken.get_json()["code"]) == (409, 409.6)

    user = {"email": "twice@example.org"}
    assert admin.post("/v1/users", json=user).status_code == 200
    twice = admin.post("/v1/users", json=user)
    assert (twice.status_code, twice.get_json()["code"]) == (409, 409.3)


# The keys Central documents -----------------------------------------------------------------------


def test_a_drafts_token_is_new_with_each_draft_and_gone_once_published(admin: Api, project: int):
    assert _upload(admin, project, forms.lookup_workbook(form_id="tok")).status_code == 200
    base = f"/v1/projects/{project}/forms/tok"
    first = admin.get(f"{base}/draft").get_json()["draftToken"]
    assert first == admin.get(f"{base}/draft").get_json()["draftToken"]
    admin.post(f"{base}/draft/attachments/{forms.LOOKUP_CSV}", data=b"code,name\n")
    assert admin.post(f"{base}/draft/publish").status_code == 200
    assert admin.get(f"{base}/draft").status_code == 404
    assert admin.post(f"{base}/draft?ignoreWarnings=true").status_code == 200
    second = admin.get(f"{base}/draft").get_json()["draftToken"]
    assert second != first
    assert len(second) == 64


def test_a_draft_token_opens_only_its_own_draft(app: Flask, admin: Api, project: int):
    assert _upload(admin, project, forms.lookup_workbook(form_id="own")).status_code == 200
    assert _upload(admin, project, forms.lookup_workbook(form_id="other")).status_code == 200
    token = admin.get(f"/v1/projects/{project}/forms/own/draft").get_json()["draftToken"]
    with app.app_context():
        drafts = {
            f.xml_form_id: f.draft_def for f in db.session.scalars(select(Form)) if f.draft_def
        }
        secret = app.config["SECRET_KEY"]
        assert draft_tokens.matches(secret, drafts["own"], token)
        assert not draft_tokens.matches(secret, drafts["other"], token)
        assert not draft_tokens.matches("another server's key", drafts["own"], token)
