"""Which submissions count: the latest version of each, not rejected or deleted, in the period."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import update

from collect.storage.db import db
from collect.storage.models import Form, Submission
from tests.evaluation.conftest import (
    POST,
    POST_COLUMNS,
    PRE,
    PRE_COLUMNS,
    Phone,
    posttest,
    pretest,
    published,
    set_min_cell,
)
from tests.evaluation.test_worked_example import block, indicator
from tests.helpers import Api


@pytest.fixture
def sent(admin: Api, project: int, phone: Any) -> tuple[Phone, list[str], list[str]]:
    """The worked example with min_cell 0; returns the phone and the instance ids sent."""
    published(admin, project, pretest())
    published(admin, project, posttest())
    set_min_cell(admin, project, 0)
    device: Phone = phone("tot_pretest", "tot_posttest")
    return (
        device,
        device.send_rows("tot_pretest", PRE_COLUMNS, PRE),
        device.send_rows("tot_posttest", POST_COLUMNS, POST),
    )


def _report(admin: Api, pid: int, query: str = "") -> dict[str, Any]:
    response = admin.get(f"/v1/projects/{pid}/evaluation{query}")
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def _measures(report: dict[str, Any], name: str) -> dict[str, Any]:
    return {m["measure"]: m["value"] for m in indicator(report, name)["measures"]}


def test_only_the_latest_version_of_an_edited_submission_counts(
    admin: Api, project: int, sent: tuple[Phone, list[str], list[str]]
) -> None:
    device, pre_ids, post_ids = sent
    # P1's pre-test score was typed wrong (4 for 0); P3's satisfaction was 3, then 5.
    device.send(
        "tot_pretest",
        {"participant_code": "P1", "sex": "female", "institution": "government", "score": "0"},
        deprecated_id=pre_ids[0],
    )
    values = dict(zip(POST_COLUMNS, POST[2], strict=True)) | {"satisfaction": "5"}
    device.send("tot_posttest", values, deprecated_id=post_ids[2])
    report = _report(admin, project)
    gain = _measures(report, "knowledge_gain")
    assert gain["pairs"] == 5
    assert gain["baseline_mean"] == 4.2  # (0 + 5 + 6 + 3 + 7) / 5
    assert gain["mean_change"] == 3  # (8 + 1 + 0 + 4 + 2) / 5
    assert gain["unmatched_baseline"] == 1
    satisfied = indicator(report, "satisfied")["total"]
    assert (satisfied["value"], satisfied["n"]) == (83.333, 6)
    assert indicator(report, "trained")["total"]["value"] == 6


def test_an_edit_can_move_a_person_to_another_category(
    admin: Api, project: int, sent: tuple[Phone, list[str], list[str]]
) -> None:
    device, _, post_ids = sent
    values = dict(zip(POST_COLUMNS, POST[1], strict=True)) | {"institution": "cso"}
    device.send("tot_posttest", values, deprecated_id=post_ids[1])
    trained = indicator(_report(admin, project), "trained")
    by_institution = block(trained, "institution", "distinct")
    assert {c: r["value"] for c, r in by_institution.items()} == {
        "government": 3,
        "nhri": 0,
        "cso": 3,
    }


def test_rejected_submissions_do_not_count(
    admin: Api, project: int, sent: tuple[Phone, list[str], list[str]]
) -> None:
    _, pre_ids, post_ids = sent
    base = f"/v1/projects/{project}/forms"
    rejected = admin.patch(
        f"{base}/tot_posttest/submissions/{post_ids[5]}", json={"reviewState": "rejected"}
    )
    assert rejected.status_code == 200, rejected.get_json()
    approved = admin.patch(
        f"{base}/tot_pretest/submissions/{pre_ids[0]}", json={"reviewState": "approved"}
    )
    assert approved.status_code == 200, approved.get_json()
    report = _report(admin, project)
    assert indicator(report, "trained")["total"]["value"] == 5  # P7 is gone
    gain = _measures(report, "knowledge_gain")
    assert (gain["pairs"], gain["unmatched_endline"], gain["unmatched_baseline"]) == (5, 0, 1)
    satisfied = indicator(report, "satisfied")["total"]
    assert (satisfied["value"], satisfied["n"]) == (80, 5)
    # Un-rejecting brings it back.
    admin.patch(f"{base}/tot_posttest/submissions/{post_ids[5]}", json={"reviewState": None})
    assert indicator(_report(admin, project), "trained")["total"]["value"] == 6


def test_deleted_submissions_do_not_count(
    app: Flask, admin: Api, project: int, sent: tuple[Phone, list[str], list[str]]
) -> None:
    _, _, post_ids = sent
    with app.app_context():
        db.session.execute(
            update(Submission)
            .where(Submission.instance_id == post_ids[0])
            .values(deleted_at=datetime.now(UTC))
        )
        db.session.commit()
    assert indicator(_report(admin, project), "trained")["total"]["value"] == 5


def _received_on(app: Flask, project: int, form_id: str, when: datetime) -> None:
    """Pretend a form's submissions arrived on another day (the server stamps them on receipt)."""
    with app.app_context():
        form = db.session.query(Form).filter_by(project_id=project, xml_form_id=form_id).one()
        db.session.execute(
            update(Submission).where(Submission.form_id == form.id).values(created_at=when)
        )
        db.session.commit()


@pytest.fixture
def dated(app: Flask, project: int, sent: tuple[Phone, list[str], list[str]]) -> None:
    _received_on(app, project, "tot_pretest", datetime(2026, 1, 10, 9, 30, tzinfo=UTC))
    _received_on(app, project, "tot_posttest", datetime(2026, 2, 20, 16, 0, tzinfo=UTC))


@pytest.mark.usefixtures("dated")
@pytest.mark.parametrize(
    ("query", "trained", "pairs", "only_endline", "only_baseline"),
    [
        ("", 6, 5, 1, 1),
        ("?from=2026-01-01&to=2026-12-31", 6, 5, 1, 1),
        ("?from=2026-02-01", 6, 0, 6, 0),
        ("?to=2026-01-31", 0, 0, 0, 6),
        # `to` is a whole day: 2026-02-20 includes what arrived at 16:00 that day.
        ("?from=2026-01-10&to=2026-02-20", 6, 5, 1, 1),
        ("?from=2026-01-11&to=2026-02-19", 0, 0, 0, 0),
        # Date and time: instants.
        ("?to=2026-02-20T15:59:59Z", 0, 0, 0, 6),
        ("?from=2026-01-10T09:30:00%2B00:00&to=2026-02-20T16:00:00Z", 6, 5, 1, 1),
    ],
)
def test_period(
    admin: Api,
    project: int,
    query: str,
    trained: int,
    pairs: int,
    only_endline: int,
    only_baseline: int,
) -> None:
    report = _report(admin, project, query)
    assert indicator(report, "trained")["total"]["value"] == trained
    gain = _measures(report, "knowledge_gain")
    assert (gain["pairs"], gain["unmatched_endline"], gain["unmatched_baseline"]) == (
        pairs,
        only_endline,
        only_baseline,
    )


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?from=2026-13-01", "'from' must be an ISO date such as 2026-03-31"),
        ("?to=yesterday", "'to' must be an ISO date"),
        ("?from=2026-03-01&to=2026-02-01", "'from' must come before 'to'"),
    ],
)
def test_bad_period_is_a_clear_400(admin: Api, project: int, query: str, message: str) -> None:
    for suffix in ("", ".csv", ".xlsx"):
        response = admin.get(f"/v1/projects/{project}/evaluation{suffix}{query}")
        assert response.status_code == 400
        assert message in response.get_json()["message"]
