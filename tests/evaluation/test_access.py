"""Who may read a project's evaluation report: managers and viewers (evaluators), not devices."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import make_user
from tests.evaluation.conftest import Phone
from tests.helpers import Api

SUFFIXES = ("", ".csv", ".xlsx")


@pytest.mark.parametrize("role", ["viewer", "manager"])
def test_project_roles_may_read(
    app: Flask, client: FlaskClient, admin: Api, project: int, worked: Phone, role: str
) -> None:
    actor_id, user = make_user(app, client, f"{role}@example.org")
    assigned = admin.post(f"/v1/projects/{project}/assignments/{role}/{actor_id}")
    assert assigned.status_code == 200
    for suffix in SUFFIXES:
        response = user.get(f"/v1/projects/{project}/evaluation{suffix}")
        assert response.status_code == 200, suffix


def test_app_user_may_not(
    client: FlaskClient, project: int, app_user: Any, admin: Api, worked: Phone
) -> None:
    device = Api(client, worked.token)
    for suffix in SUFFIXES:
        response = device.get(f"/v1/projects/{project}/evaluation{suffix}")
        assert response.status_code == 403, suffix
        assert response.get_json()["code"] == 403.1


def test_user_without_a_role_does_not_see_the_project(
    app: Flask, client: FlaskClient, project: int, admin: Api
) -> None:
    _, stranger = make_user(app, client, "stranger@example.org")
    for suffix in SUFFIXES:
        assert stranger.get(f"/v1/projects/{project}/evaluation{suffix}").status_code == 404


def test_signed_out_and_unknown_project(client: FlaskClient, admin: Api, project: int) -> None:
    assert client.get(f"/v1/projects/{project}/evaluation").status_code == 401
    response = admin.get(f"/v1/projects/{project + 100}/evaluation.csv")
    assert response.status_code == 404
    assert response.get_json()["code"] == 404.1
