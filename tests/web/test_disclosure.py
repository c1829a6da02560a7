"""One disclosure rule for every reader: a walk over every route, and each defect it closed.

The walk takes the routes from the app's url_map, so a route added later is walked too: every
GET route is requested with every value its parameters can take here, as a viewer and as a
manager, and every byte that comes back (ZIP entries and XLSX parts unpacked) is searched for
the markers planted in sensitive answers, the instance name and sensitive files. A route that
writes must be listed below, with what it returns; one that is not fails the walk.
"""

from __future__ import annotations

import io
import itertools
import re
import zipfile
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote, unquote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import make_user
from tests.helpers import XLSX, Api
from tests.pages.conftest import signed_in
from tests.web import disclosure_world as w
from tests.web.disclosure_world import World
from tests.workbooks import simple, xlsx

Request = dict[str, Any]
EXTENDED = {"X-Extended-Metadata": "true"}
EXPORT_QUERIES = (
    "",
    "sensitive=include",
    "groupPaths=false&splitSelectMultiples=true&deletedFields=true",
)
# Query strings and headers tried on some routes besides the plain request.
VARIANTS: dict[str, tuple[tuple[str, dict[str, str]], ...]] = {
    "submissions.list_submissions": (("", {}), ("", EXTENDED)),
    "submissions.get_submission": (("", {}), ("", EXTENDED)),
    "submissions.list_versions": (("", {}), ("", EXTENDED)),
    "exports.csv_zip": tuple((q, {}) for q in EXPORT_QUERIES),
    "exports.csv_root": tuple((q, {}) for q in EXPORT_QUERIES),
    "exports.xlsx": tuple((q, {}) for q in EXPORT_QUERIES),
    "odata.rows": tuple(
        (q, {})
        for q in (
            "",
            "$expand=*",
            "$select=observer_code",
            "$select=victim/victim_name",
            "$select=meta/instanceName",
            "$select=meta,region",
            "$filter=observer_code eq 'x'",
        )
    ),
    "pages.submission_list": (("", {}), ("lang=default", {})),
}


def xml_body(world: World) -> Request:
    xml = w.submission("2", "uuid:written-by-a-reader").replace(w.OBSERVER.encode(), b"x")
    return {"data": xml, "headers": {"Content-Type": "application/xml"}}


def edit_body(world: World) -> Request:
    return {
        "data": w.submission("2", "uuid:an-edit", deprecated="uuid:unknown"),
        "headers": {"Content-Type": "application/xml"},
    }


# Writes that answer with a submission (its instanceName): walked as each reader.
ANSWERING_WRITES: dict[tuple[str, str], Callable[[World], Request]] = {
    ("submissions.create_submission", "POST"): xml_body,
    ("submissions.edit_submission", "PUT"): edit_body,
    ("submissions.review", "PATCH"): lambda world: {"json": {"reviewState": "hasIssues"}},
}
# Writes that answer with no submission data, and why.
OTHER_WRITES = {
    ("api.create_session", "POST"): "a session token",
    ("api.delete_session", "DELETE"): "success",
    ("api.delete_current_session", "DELETE"): "success",
    ("api.create_user", "POST"): "the new user",
    ("api.create_project", "POST"): "the project",
    ("api.update_project", "PATCH"): "the project",
    ("api.create_app_user", "POST"): "the app user and its token",
    ("api.delete_app_user", "DELETE"): "success",
    ("api.assign", "POST"): "success",
    ("api.unassign", "DELETE"): "success",
    ("api.create_form", "POST"): "the form",
    ("api.update_form", "PATCH"): "the form",
    ("api.assign_form", "POST"): "success",
    ("api.unassign_form", "DELETE"): "success",
    ("api.create_draft", "POST"): "success",
    ("api.upload_draft_attachment", "POST"): "success",
    ("api.publish_draft", "POST"): "the form",
    ("submissions.upload_attachment", "POST"): "success",
    ("submissions.add_comment", "POST"): "the comment",
    ("openrosa.submit", "POST"): "an OpenRosa receipt",
    **{("openrosa.unknown", m): "404" for m in ("POST", "PUT", "PATCH", "DELETE")},
    **{
        (f"pages.{name}", "POST"): "a redirect"
        for name in (
            "login",
            "logout",
            "user_create",
            "project_create",
            "member_add",
            "member_remove",
            "app_user_create",
            "app_user_assign",
            "app_user_unassign",
            "app_user_revoke",
            "form_upload",
            "form_state",
            "draft_upload",
            "draft_media",
            "draft_publish",
            "submission_review",
            "evaluation_min_cell",
        )
    },
}


@pytest.fixture
def world(app: Flask, client: FlaskClient, admin: Api, project: int) -> World:
    return w.build(app, client, admin, project)


def parameters(world: World) -> dict[str, list[str]]:
    """Every value each route parameter takes in the walk."""
    return {
        "pid": [str(world.pid)],
        "xml_form_id": [w.FORM],
        "fid": [w.FORM],
        "instance_id": [world.first, world.second],
        "iid": [world.first, world.second],
        "name": [w.SITE_FILE, w.WITNESS_FILE, w.ID_FILE],
        "version": ["1", "2"],
        "resource": [
            "Submissions",
            "Submissions.incident",
            "Submissions.contacts",
            f"Submissions('{world.first}')",
            f"Submissions('{world.first}')/incident",
            "Submissions/$count",
        ],
        "aid": [str(world.device_id)],
        "actor_id": [str(world.device_id), str(world.viewer.actor_id)],
        "role": ["viewer", "app-user"],
        "token": [world.device_token],
        "rest": ["anything"],
        "filename": ["collect.css"],
    }


_ARGUMENT = re.compile(r"<(?:([a-z]+):)?([a-z_]+)>")


def urls(rule: Any, world: World) -> Iterator[str]:
    """The rule's URL with every combination of its parameters' values."""
    values = parameters(world)
    names = [m.group(2) for m in _ARGUMENT.finditer(rule.rule)]
    missing = [n for n in names if n not in values]
    assert not missing, f"{rule.rule}: give the walk values for {missing} in parameters()"
    for combination in itertools.product(*(values[n] for n in names)):
        url, chosen = rule.rule, dict(zip(names, combination, strict=True))
        for match in _ARGUMENT.finditer(rule.rule):
            url = url.replace(match.group(0), quote(chosen[match.group(2)], safe="/:()'$"))
        yield url


def contents(data: bytes) -> Iterator[bytes]:
    """A body and, when it is a ZIP (CSV zip, XLSX), every entry in it, unpacked."""
    yield data
    if data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for name in archive.namelist():
                yield name.encode()
                yield from contents(archive.read(name))


def markers_in(response: TestResponse, url: str) -> set[str]:
    """The markers a response carries, but those the request itself named."""
    asked = unquote(url)
    found = {
        marker
        for part in [str(response.headers).encode(), *contents(response.get_data())]
        for marker in (*w.MARKERS, *w.VISIBLE)
        if marker.encode() in part
    }
    return {m for m in found if m not in asked}


def walk(world: World, reader: w.Reader) -> dict[str, set[str]]:
    """Every GET route and every answering write, as `reader`: url -> markers found."""
    seen: dict[str, set[str]] = {}
    for rule in world.app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()):
            continue
        for url in urls(rule, world):
            for query, headers in VARIANTS.get(rule.endpoint, (("", {}),)):
                target = f"{url}?{query}" if query else url
                response = reader.browser.client.get(target, headers=headers)
                # A web-form page answers 503 when the bundle is not built (it is built by
                # `collect assets build`, which needs npm): it carries no answers either way.
                unbuilt = rule.endpoint.startswith("webforms.") and response.status_code == 503
                assert response.status_code < 500 or unbuilt, (target, response.data[:300])
                seen[f"GET {target} {headers} {response.status_code}"] = markers_in(
                    response, target
                )
                response.close()
    for (endpoint, method), make in ANSWERING_WRITES.items():
        (rule,) = (r for r in world.app.url_map.iter_rules() if r.endpoint == endpoint)
        for url in urls(rule, world):
            response = getattr(reader.api, method.lower())(url, **make(world))
            assert response.status_code < 500, (url, response.data[:300])
            seen[f"{method} {url} {response.status_code}"] = markers_in(response, url)
    return seen


def test_every_route_that_writes_is_known_to_the_walk(app: Flask) -> None:
    writes = {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        for method in (rule.methods or set()) - {"GET", "HEAD", "OPTIONS"}
    }
    unknown = writes - ANSWERING_WRITES.keys() - OTHER_WRITES.keys()
    assert not unknown, (
        f"New routes that write: {sorted(unknown)}. If one answers with submission data, walk "
        "it (ANSWERING_WRITES); otherwise say what it answers with (OTHER_WRITES)."
    )
    assert not (ANSWERING_WRITES.keys() | OTHER_WRITES.keys()) - writes, "routes that are gone"


def test_a_viewer_gets_no_sensitive_answer_from_any_route(world: World) -> None:
    seen = walk(world, world.viewer)
    leaks = {where: found - set(w.VISIBLE) for where, found in seen.items()}
    assert not {where: found for where, found in leaks.items() if found}
    shown = set().union(*seen.values())
    assert shown >= set(w.VISIBLE), "the walk saw none of the answers a viewer may see"
    assert sum(where.endswith(" 200") for where in seen) > 60


def test_a_manager_gets_every_sensitive_answer_somewhere(world: World) -> None:
    seen = walk(world, world.manager)
    assert set().union(*seen.values()) >= {*w.MARKERS, *w.VISIBLE}


# Each defect the rule closed, through the interface that showed it ------------------------------


def test_instance_name_is_withheld_from_viewers_everywhere(world: World) -> None:
    """`concat(${observer_code}, ' ', ${region})` showed `OBS-7Q3Z kara` to viewers."""
    base, first = world.base(), world.first
    for reader, expected in ((world.viewer, None), (world.manager, w.INSTANCE_NAME)):
        api = reader.api
        listed = api.get(f"{base}/submissions").get_json()
        assert {s["currentVersion"]["instanceName"] for s in listed} == {expected}
        one = api.get(f"{base}/submissions/{first}", headers=EXTENDED).get_json()
        assert one["currentVersion"]["instanceName"] == expected
        versions = api.get(f"{base}/submissions/{first}/versions").get_json()
        assert [v["instanceName"] for v in versions] == [expected, expected]
        for page in ("submissions", f"submissions/{first}"):
            html = reader.browser.text(f"/projects/{world.pid}/forms/{w.FORM}/{page}")
            assert (w.INSTANCE_NAME in html) is (expected is not None)
    header = world.viewer.api.get(f"{base}/submissions.csv").data.decode().splitlines()[0]
    assert "meta-instanceID" in header and "meta-instanceName" not in header
    archive = zipfile.ZipFile(io.BytesIO(world.viewer.api.get(f"{base}/submissions.csv.zip").data))
    assert (
        f"{w.FORM}.csv: meta-instanceName (the submission's name, which may hold sensitive "
        "answers)" in archive.read("withheld-columns.txt").decode()
    )
    included = world.manager.api.get(f"{base}/submissions.csv?sensitive=include")
    assert "meta-instanceName" in included.data.decode().splitlines()[0]
    assert w.INSTANCE_NAME in included.data.decode()


def test_the_odata_feed_never_carries_the_instance_name_made_of_sensitive_answers(
    world: World,
) -> None:
    """The feed leaves sensitive answers out for everyone, so the name made of them too."""
    svc = f"{world.base()}.svc"
    for reader in (world.viewer, world.manager):
        rows = reader.api.get(f"{svc}/Submissions").get_json()["value"]
        assert [set(r["meta"]) for r in rows] == [{"instanceID"}, {"instanceID"}]
        metadata = reader.api.get(f"{svc}/$metadata").data.decode()
        assert 'Name="instanceID"' in metadata and "instanceName" not in metadata
        assert "observer_code" not in metadata and "victim_name" not in metadata


def test_hidden_paths_in_select_and_filter_are_refused_like_unknown_ones(world: World) -> None:
    svc = f"{world.base()}.svc/Submissions"
    api = world.viewer.api
    for hidden in ("observer_code", "victim/victim_name", "meta/instanceName", "notes"):
        unknown = f"{hidden}x"
        refused = api.get(f"{svc}?$select={hidden}")
        like = api.get(f"{svc}?$select={unknown}")
        assert refused.status_code == like.status_code == 400
        assert refused.get_json()["message"] == like.get_json()["message"].replace(unknown, hidden)
        refused = api.get(f"{svc}?$filter={hidden} eq 'x'")
        like = api.get(f"{svc}?$filter={unknown} eq 'x'")
        assert refused.status_code == like.status_code == 400
        assert refused.get_json()["message"] == like.get_json()["message"].replace(unknown, hidden)
    assert api.get(f"{svc}?$select=region,meta/instanceID").status_code == 200


def test_pages_leave_out_the_children_of_a_sensitive_group(world: World) -> None:
    """`victim_name`, inside the sensitive group `victim`, was on the viewer's pages."""
    pages = f"/projects/{world.pid}/forms/{w.FORM}/submissions"
    for reader, shown in ((world.viewer, False), (world.manager, True)):
        table = reader.browser.text(pages)
        detail = reader.browser.text(f"{pages}/{world.first}")
        for html in (table, detail):
            assert ("Victim&#39;s name" in html) is shown
            assert (w.VICTIM in html) is shown
            assert "Kara" in html  # the region: not sensitive
        assert (w.WITNESS in detail) is shown  # in a repeat
        assert (w.PHONE in detail) is shown  # in a sensitive repeat
        assert (w.ID_FILE in detail) is shown
        assert w.SITE_FILE in detail
    assert "shown to project managers only" in world.viewer.browser.text(f"{pages}/{world.first}")


def test_sensitive_in_any_version_or_in_the_draft_is_hidden(world: World) -> None:
    """Version 2 no longer marks observer_code, and only the draft marks notes."""
    base = world.base()
    csv = world.viewer.api.get(f"{base}/submissions.csv").data.decode()
    header = csv.splitlines()[0].split(",")
    assert "observer_code" not in header and "notes" not in header and "region" in header
    assert w.OBSERVER not in csv and w.NOTE not in csv
    rows = world.viewer.api.get(f"{base}.svc/Submissions").get_json()["value"]
    assert all("observer_code" not in r and "notes" not in r for r in rows)
    assert world.viewer.api.get(f"{base}/submissions/{world.second}.xml").status_code == 403
    manager = world.manager.api.get(f"{base}/submissions.csv?sensitive=include").data.decode()
    assert w.OBSERVER in manager and w.NOTE in manager


def test_files_only_hidden_questions_name_are_not_listed_nor_served(world: World) -> None:
    files = f"{world.base()}/submissions/{world.first}/attachments"
    viewer, manager = world.viewer.api, world.manager.api
    assert viewer.get(files).get_json() == [{"name": w.SITE_FILE, "exists": True}]
    assert {a["name"] for a in manager.get(files).get_json()} == {
        w.SITE_FILE,
        w.WITNESS_FILE,
        w.ID_FILE,
    }
    assert viewer.get(f"{files}/{w.SITE_FILE}").data == w.SITE_BYTES
    for name, data in ((w.WITNESS_FILE, w.WITNESS_BYTES), (w.ID_FILE, w.ID_BYTES)):
        refused = viewer.get(f"{files}/{name}")
        assert refused.status_code == 404
        assert refused.get_json()["message"] == viewer.get(f"{files}/nothing.jpg").get_json()[
            "message"
        ].replace("nothing.jpg", name)
        assert manager.get(f"{files}/{name}").data == data
    media = zipfile.ZipFile(io.BytesIO(viewer.get(f"{world.base()}/submissions.csv.zip").data))
    assert [n for n in media.namelist() if n.startswith("media/")] == [f"media/{w.SITE_FILE}"]


def test_raw_xml_is_for_readers_from_whom_nothing_is_withheld(
    app: Flask, client: FlaskClient, admin: Api, project: int
) -> None:
    """The rule decides: a form with nothing sensitive gives viewers its XML, and a draft that
    marks a question sensitive takes it away from them at once."""
    forms = f"/v1/projects/{project}/forms"
    created = admin.post(f"{forms}?publish=true", data=simple(), headers={"Content-Type": XLSX})
    assert created.status_code == 200, created.get_json()
    xml = (
        b'<data id="simple" version="1"><participant_code>AB1234</participant_code>'
        b"<age>30</age><meta><instanceID>uuid:s1</instanceID></meta></data>"
    )
    sent = admin.post(
        f"{forms}/simple/submissions", data=xml, headers={"Content-Type": "application/xml"}
    )
    assert sent.status_code == 200, sent.get_json()
    actor_id, viewer = make_user(app, client, "viewer@example.org")
    admin.post(f"/v1/projects/{project}/assignments/viewer/{actor_id}")
    raw = f"{forms}/simple/submissions/uuid:s1.xml"
    assert viewer.get(raw).data == xml
    marked = xlsx(
        [
            ("type", "name", "label", "sensitive"),
            ("text", "participant_code", "Participant code", "yes"),
            ("integer", "age", "Age", ""),
        ],
        settings=[("form_id", "version"), ("simple", "2")],
    )
    draft = admin.post(f"{forms}/simple/draft", data=marked, headers={"Content-Type": XLSX})
    assert draft.status_code == 200, draft.get_json()
    refused = viewer.get(raw)
    assert refused.status_code == 403
    assert "for project managers only" in refused.get_json()["message"]
    assert b"AB1234" not in refused.data
    assert admin.get(raw).data == xml
    listed = viewer.get(f"{forms}/simple/submissions.csv").data.decode()
    assert "AB1234" not in listed and "30" in listed


def test_an_instance_name_made_of_shown_answers_stays(
    app: Flask, client: FlaskClient, admin: Api, project: int
) -> None:
    """A name made only of answers the viewer sees is kept, in every reader."""
    body = xlsx(
        [
            ("type", "name", "label", "sensitive"),
            ("text", "full_name", "Full name", "yes"),
            ("text", "village", "Village", ""),
            ("integer", "household", "Household number", ""),
        ],
        settings=[
            ("form_id", "version", "instance_name"),
            ("visit", "1", "concat(${village}, '-', ${household})"),
        ],
    )
    forms = f"/v1/projects/{project}/forms"
    created = admin.post(f"{forms}?publish=true", data=body, headers={"Content-Type": XLSX})
    assert created.status_code == 200, created.get_json()
    xml = (
        b'<data id="visit" version="1"><full_name>Ama Mensah</full_name><village>Kara</village>'
        b"<household>12</household><meta><instanceID>uuid:v1</instanceID>"
        b"<instanceName>Kara-12</instanceName></meta></data>"
    )
    sent = admin.post(
        f"{forms}/visit/submissions", data=xml, headers={"Content-Type": "application/xml"}
    )
    assert sent.status_code == 200, sent.get_json()
    actor_id, viewer = make_user(app, client, "viewer@example.org", w.PASSWORD)
    admin.post(f"/v1/projects/{project}/assignments/viewer/{actor_id}")
    base = f"{forms}/visit"
    listed = viewer.get(f"{base}/submissions").get_json()
    assert listed[0]["currentVersion"]["instanceName"] == "Kara-12"
    csv = viewer.get(f"{base}/submissions.csv").data.decode()
    assert "meta-instanceName" in csv and "Kara-12" in csv and "Ama Mensah" not in csv
    (row,) = viewer.get(f"{base}.svc/Submissions").get_json()["value"]
    assert row["meta"]["instanceName"] == "Kara-12" and "full_name" not in row
    browser = signed_in(app, "viewer@example.org", w.PASSWORD)
    for page in ("submissions", "submissions/uuid:v1"):
        html = browser.text(f"/projects/{project}/forms/visit/{page}")
        assert "Kara-12" in html and "Ama Mensah" not in html
