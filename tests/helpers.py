"""Test helpers: a JSON API client that signs in like pyodk, and paths to the sample forms."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from collect import demo

ROOT = Path(__file__).resolve().parent.parent
FORMS_DIR = ROOT / "forms"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SAMPLE_FORMS = demo.PROGRAMME_ORDER  # every form in forms/, in the order a programme uses them


def form_bytes(name: str) -> bytes:
    return (FORMS_DIR / f"{name}.xlsx").read_bytes()


class Api:
    """Sends requests to /v1 with a bearer token, as pyodk and ruODK do."""

    def __init__(self, client: FlaskClient, token: str | None = None) -> None:
        self.client = client
        self.token = token

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers = dict(extra or {})
        if self.token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        return headers

    def get(self, path: str, **kw: Any) -> TestResponse:
        return self.client.get(path, headers=self._headers(kw.pop("headers", None)), **kw)

    def delete(self, path: str, **kw: Any) -> TestResponse:
        return self.client.delete(path, headers=self._headers(kw.pop("headers", None)), **kw)

    def post(self, path: str, **kw: Any) -> TestResponse:
        return self.client.post(path, headers=self._headers(kw.pop("headers", None)), **kw)

    def patch(self, path: str, **kw: Any) -> TestResponse:
        return self.client.patch(path, headers=self._headers(kw.pop("headers", None)), **kw)

    def put(self, path: str, **kw: Any) -> TestResponse:
        return self.client.put(path, headers=self._headers(kw.pop("headers", None)), **kw)

    def upload_form(
        self, pid: int, name: str, *, publish: bool = True, query: str = ""
    ) -> TestResponse:
        """Upload forms/<name>.xlsx to a project."""
        flag = "true" if publish else "false"
        return self.post(
            f"/v1/projects/{pid}/forms?publish={flag}{query}",
            data=form_bytes(name),
            headers={"Content-Type": XLSX},
        )


def sign_in(client: FlaskClient, email: str, password: str) -> Api:
    response = client.post("/v1/sessions", json={"email": email, "password": password})
    assert response.status_code == 200, response.get_json()
    return Api(client, response.get_json()["token"])
