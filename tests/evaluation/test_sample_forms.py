"""The sample forms' indicators, on the demo's synthetic submissions, give a complete report."""

from __future__ import annotations

from typing import Any

from flask import Flask

from collect.demo import data as demo_data
from collect.storage.db import db
from collect.storage.models import AppUser
from tests.helpers import SAMPLE_FORMS, Api

# Every indicator of forms/README.md.
INDICATORS = {
    "participants",
    "women_share",
    "disability_share",
    "pretests",
    "pretest_score",
    "knowledge_gain",
    "posttest_score",
    "satisfied",
    "intend_to_use",
    "used_learning_share",
    "colleagues_reached",
    "consultation_sessions",
    "consultation_participants",
    "consultation_women",
    "consultation_pwd",
    "consultation_youth",
    "gender_balanced_sessions",
    "respondents",
    "design_participation",
    "felt_heard_share",
}


def _seed(app: Flask, app_user_id: int) -> int:
    with app.app_context():
        device = db.session.get(AppUser, app_user_id)
        assert device is not None
        return demo_data.seed(device)


def test_demo_data_gives_a_complete_report(
    app: Flask, admin: Api, project: int, publish: Any, app_user: Any
) -> None:
    forms = [publish(name) for name in SAMPLE_FORMS]
    device = app_user(*forms)
    sent = _seed(app, device["id"])
    assert 500 <= sent <= 650
    # Seeding is done once: a project with submissions gets no more.
    assert _seed(app, device["id"]) == 0

    response = admin.get(f"/v1/projects/{project}/evaluation")
    assert response.status_code == 200
    report = response.get_json()
    assert report["minCell"] == 5
    results = {i["name"]: i for s in report["sections"] for i in s["indicators"]}
    assert set(results) == INDICATORS
    for name, result in results.items():
        assert result["waitingFor"] is None, name
        total = result["total"]
        assert total["value"] is not None and not total["suppressed"], name
        assert total["n"] >= 5, name
        for b in result["blocks"]:
            assert b["rows"], (name, b["dimension"])
            # Some categories are small enough to hide, but never all of a block.
            assert any(r["value"] for r in b["rows"] if not r["suppressed"]), (name, b)

    # What a training report says: about 120 people, a knowledge gain, mostly satisfied.
    assert 110 <= results["participants"]["total"]["value"] <= 130
    gain = {m["measure"]: m["value"] for m in results["knowledge_gain"]["measures"]}
    assert gain["mean_change"] > 1 and gain["pairs"] > 60
    assert gain["endline_mean"] > gain["baseline_mean"]
    assert 60 <= results["satisfied"]["total"]["value"] <= 95
    assert results["consultation_sessions"]["total"]["value"] == 20
    assert results["respondents"]["total"]["value"] == 150
    # Some answers are missing, and the report says so.
    participants = results["participants"]
    age = next(b for b in participants["blocks"] if b["dimension"].startswith("age:"))
    assert [r["category"] for r in age["rows"]][-1] == "(no answer)"

    for suffix in (".csv", ".xlsx"):
        assert admin.get(f"/v1/projects/{project}/evaluation{suffix}").status_code == 200
