"""Projects, roles and assignments, in Central's shapes."""

from __future__ import annotations

from tests.conftest import make_user
from tests.helpers import Api


def test_admin_creates_reads_and_patches_a_project(admin: Api) -> None:
    created = admin.post("/v1/projects", json={"name": "NHRI capacity building"})
    assert created.status_code == 200
    body = created.get_json()
    assert set(body) >= {
        "id",
        "name",
        "description",
        "archived",
        "keyId",
        "createdAt",
        "updatedAt",
        "deletedAt",
    }
    assert body["minCell"] == 5
    pid = body["id"]
    patched = admin.patch(f"/v1/projects/{pid}", json={"minCell": 0, "description": "2026"})
    assert patched.status_code == 200
    assert patched.get_json()["minCell"] == 0
    assert admin.get(f"/v1/projects/{pid}").get_json()["description"] == "2026"
    assert [p["id"] for p in admin.get("/v1/projects").get_json()] == [pid]


def test_bad_project_bodies_say_what_to_fix(admin: Api, project: int) -> None:
    empty = admin.post("/v1/projects", json={"name": ""})
    assert empty.status_code == 400 and "name" in empty.get_json()["message"]
    unknown = admin.patch(f"/v1/projects/{project}", json={"colour": "red"})
    assert unknown.status_code == 400 and "colour" in unknown.get_json()["message"]
    negative = admin.patch(f"/v1/projects/{project}", json={"minCell": -1})
    assert negative.status_code == 400 and "minCell" in negative.get_json()["message"]
    not_json = admin.post("/v1/projects", data="name=x")
    assert not_json.status_code == 400 and "JSON" in not_json.get_json()["message"]


def test_roles_are_centrals(admin: Api) -> None:
    roles = {r["system"]: r["id"] for r in admin.get("/v1/roles").get_json()}
    assert roles == {"admin": 1, "app-user": 2, "manager": 3, "viewer": 4}


def test_assignments_by_name_or_id(app, client, admin: Api, project: int) -> None:
    manager_id, _ = make_user(app, client, "mona@example.org")
    viewer_id, _ = make_user(app, client, "vic@example.org")
    assert admin.post(f"/v1/projects/{project}/assignments/manager/{manager_id}").status_code == 200
    assert admin.post(f"/v1/projects/{project}/assignments/4/{viewer_id}").status_code == 200
    listed = admin.get(f"/v1/projects/{project}/assignments").get_json()
    assert {(a["actorId"], a["roleId"]) for a in listed} == {(manager_id, 3), (viewer_id, 4)}
    assert admin.post(f"/v1/projects/{project}/assignments/viewer/{viewer_id}").status_code == 409
    assert admin.post(f"/v1/projects/{project}/assignments/boss/{viewer_id}").status_code == 404
    assert admin.delete(f"/v1/projects/{project}/assignments/viewer/{viewer_id}").status_code == 200
    assert len(admin.get(f"/v1/projects/{project}/assignments").get_json()) == 1


def test_a_manager_cannot_see_another_project(app, client, admin: Api, project: int) -> None:
    other = admin.post("/v1/projects", json={"name": "Other"}).get_json()["id"]
    manager_id, manager = make_user(app, client, "mona@example.org")
    admin.post(f"/v1/projects/{project}/assignments/manager/{manager_id}")
    assert [p["id"] for p in manager.get("/v1/projects").get_json()] == [project]
    assert manager.get(f"/v1/projects/{project}").status_code == 200
    assert manager.get(f"/v1/projects/{other}").status_code == 404
    assert manager.get(f"/v1/projects/{other}/forms").status_code == 404
    assert manager.post("/v1/projects", json={"name": "Mine"}).status_code == 403


def test_a_viewer_reads_but_cannot_publish_or_manage(app, client, admin: Api, project: int) -> None:
    viewer_id, viewer = make_user(app, client, "vic@example.org")
    admin.post(f"/v1/projects/{project}/assignments/viewer/{viewer_id}")
    assert viewer.get(f"/v1/projects/{project}").status_code == 200
    assert viewer.get(f"/v1/projects/{project}/forms").status_code == 200
    assert viewer.upload_form(project, "training_pretest").status_code == 403
    assert viewer.patch(f"/v1/projects/{project}", json={"minCell": 0}).status_code == 403
    assert viewer.get(f"/v1/projects/{project}/app-users").status_code == 403
    assert viewer.post(f"/v1/projects/{project}/assignments/viewer/{viewer_id}").status_code == 403


def test_an_app_user_cannot_use_the_json_api(admin: Api, project: int, app_user) -> None:
    token = app_user()["token"]
    device = Api(admin.client, token)
    for path in ("/v1/users/current", "/v1/projects", f"/v1/projects/{project}/forms"):
        response = device.get(path)
        assert response.status_code == 403, path
        assert "ODK Collect" in response.get_json()["message"]


def test_unknown_urls_are_json_404(admin: Api) -> None:
    response = admin.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.get_json()["code"] == 404.0


def test_extended_metadata_counts_forms_and_app_users(
    admin: Api, project: int, publish, app_user
) -> None:
    publish("training_pretest")
    app_user("training_pretest")
    plain = admin.get(f"/v1/projects/{project}").get_json()
    assert "forms" not in plain
    extended = admin.get(f"/v1/projects/{project}", headers={"X-Extended-Metadata": "true"})
    body = extended.get_json()
    assert (body["forms"], body["appUsers"], body["lastSubmission"]) == (1, 1, None)


def test_unknown_pages_are_html_pages(client) -> None:
    response = client.get("/no-such-page", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert b"There is no page at this address" in response.data
    assert b"Traceback" not in response.data


def test_api_sign_in_slows_down_after_repeated_failures(app, client) -> None:
    from collect.domain.people import users

    with app.app_context():
        users.create("ana@example.org", "a long password")
    answers = [
        client.post("/v1/sessions", json={"email": "ana@example.org", "password": "wrong"})
        for _ in range(6)
    ]
    assert [a.status_code for a in answers] == [401, 401, 401, 401, 429, 429]
    assert "wait 15 minutes" in answers[-1].get_json()["message"]
    assert int(answers[-1].headers["Retry-After"]) > 14 * 60
    right = client.post(
        "/v1/sessions", json={"email": "ana@example.org", "password": "a long password"}
    )
    assert right.status_code == 429
