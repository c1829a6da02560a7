"""A bounded schemathesis fuzz of collect's own API description, collect/web/openapi.yaml.

Every operation is called with generated requests twice over: with every id generated (mostly
404s and 400s), and with the ids of a seeded project, form, submission and app user, so that
the generated bodies and query options reach real data. Each answer must be no 5xx, come back
within 10 s, and match the description (status, content type, JSON shape). The number of
examples is small on purpose: this runs in CI on both databases.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import collect
from tests.central import forms
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.helpers import XLSX, Api, sign_in

SPEC = Path(collect.__file__).resolve().parent / "web" / "openapi.yaml"
EXAMPLES = 3  # per operation and per way of choosing ids
SLOWEST = 10.0  # seconds
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Reads first, then writes, then deletions, so a deletion cannot starve the reads of data.
ORDER = {"get": 0, "head": 0, "post": 1, "put": 1, "patch": 1, "delete": 2}
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def _seed(client: FlaskClient, admin: Api, project: int) -> dict[str, Any]:
    """A form with a media file, an app user given it, a submission with an attachment."""
    forms_url = f"/v1/projects/{project}/forms"
    workbook = forms.lookup_workbook(form_id="fuzzed")
    created = admin.post(
        f"{forms_url}?ignoreWarnings=true", data=workbook, headers={"Content-Type": XLSX}
    )
    assert created.status_code == 200, created.get_json()
    admin.post(f"{forms_url}/fuzzed/draft/attachments/{forms.LOOKUP_CSV}", data=b"code,name\n")
    assert admin.post(f"{forms_url}/fuzzed/draft/publish").status_code == 200
    app_user = admin.post(f"/v1/projects/{project}/app-users", json={"displayName": "Phone"})
    actor, token = app_user.get_json()["id"], app_user.get_json()["token"]
    admin.post(f"{forms_url}/fuzzed/assignments/app-user/{actor}")
    xml = forms.lookup_submission("fuzzed", "1", "uuid:fuzzed-1").encode()
    sent = admin.post(
        f"{forms_url}/fuzzed/submissions", data=xml, headers={"Content-Type": "text/xml"}
    )
    assert sent.status_code == 200, sent.get_json()
    return {
        "pid": project,
        "xmlFormId": "fuzzed",
        "instanceId": "uuid:fuzzed-1",
        "actorId": actor,
        "token": token,
        "name": forms.LOOKUP_CSV,
        "role": "viewer",
        "version": "1",
        "table": "Submissions",
    }


def _operations() -> list[Any]:
    operations = []
    for result in schemathesis.openapi.from_path(str(SPEC)).get_all_operations():
        assert isinstance(result, Ok), result
        operations.append(result.ok())
    return operations


def _fuzz(operation: Any, fixed: dict[str, Any], send: Callable[[Any], Any]) -> None:
    names = {p.name for p in operation.path_parameters}
    for path_parameters in ({}, {k: v for k, v in fixed.items() if k in names}):
        if operation.method == "delete" and path_parameters:
            continue  # deleting the seeded data would leave nothing for later operations

        @SETTINGS
        @given(case=operation.as_strategy(path_parameters=path_parameters))
        def run(case: Any) -> None:
            send(case)

        run()


def test_fuzz_our_description(app: Flask, client: FlaskClient, admin: Api, project: int) -> None:
    fixed = _seed(client, admin, project)
    operations = sorted(_operations(), key=lambda o: ORDER[o.method])
    calls = 0
    succeeded: set[str] = set()

    def send(case: Any) -> None:
        nonlocal calls
        token = admin.token
        if case.operation.path == "/v1/sessions/current":
            token = sign_in(client, ADMIN_EMAIL, ADMIN_PASSWORD).token  # it ends the session
        started = time.monotonic()
        response = case.call_and_validate(
            app=app, headers={"Authorization": f"Bearer {token}"}, checks=CHECKS
        )
        took = time.monotonic() - started
        calls += 1
        if response.status_code < 300:
            succeeded.add(f"{case.method} {case.operation.path}")
        assert took < SLOWEST, f"{case.method} {case.formatted_path} took {took:.1f} s"

    for operation in operations:
        _fuzz(operation, fixed, send)
    assert calls >= len(operations) * EXAMPLES
    # The seeded ids must carry the generated requests past the 404s to real data.
    assert len(succeeded) >= 40, f"only these answered 2xx: {sorted(succeeded)}"


def test_the_description_names_every_route(app: Flask) -> None:
    described = {
        (path, method.upper())
        for path, item in schemathesis.openapi.from_path(str(SPEC)).raw_schema["paths"].items()
        for method in item
        if method in ORDER
    }
    served = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/v1") or rule.endpoint == "openrosa.unknown":
            continue  # the catch-all under /v1/key only says "not here" to ODK Collect
        path = rule.rule.replace("<int:", "<").replace("<path:", "<")
        for flask_name, name in (
            ("xml_form_id", "xmlFormId"),
            ("instance_id", "instanceId"),
            ("actor_id", "actorId"),
            ("resource", "table"),
        ):
            path = path.replace(f"<{flask_name}>", f"<{name}>")
        path = path.replace("<", "{").replace(">", "}").rstrip("/") if path != "/" else path
        for method in (rule.methods or set()) - {"OPTIONS", "HEAD"}:
            served.add((path, method))
    assert sorted(served - described) == []
    assert (
        sorted(described - served - {("/v1/key/{token}/projects/{pid}/submission", "HEAD")}) == []
    )


def test_the_description_is_valid_openapi() -> None:
    assert len(_operations()) >= 60
