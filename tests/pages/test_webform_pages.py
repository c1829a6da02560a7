"""The web-form pages and the bundle as a browser receives them: headers, who may preview."""

from __future__ import annotations

import gzip
import html
import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from collect import assets
from collect.web.webforms import WEBFORM_CSP
from tests.helpers import XLSX, Api
from tests.pages.conftest import Browser
from tests.webforms.forms import png, site_check

FORM = "consultation_record"


def data_attributes(page: str) -> dict[str, str]:
    main = re.search(r"<main id=\"webform\" data-webform([^>]*)>", page)
    assert main, page
    return {k: html.unescape(v) for k, v in re.findall(r' data-([a-z-]+)="([^"]*)"', main.group(1))}


def test_a_preview_names_the_form_by_urls_and_sends_nowhere(
    bundle: assets.Bundle, admin_page: Browser, project: int, publish: Any
) -> None:
    publish(FORM)
    response = admin_page.get(f"/projects/{project}/forms/{FORM}/preview?lang=fr")
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == WEBFORM_CSP
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    assert f'<script type="module" src="{bundle.js}"></script>' in page
    assert data_attributes(page) == {
        "form-url": f"/v1/projects/{project}/forms/{FORM}.xml",
        "attachments-url": f"/v1/projects/{project}/forms/{FORM}/attachments/",
        "media": "[]",
        "submission-url": "",
        "language": "fr",
        "missing-resources": "BLANK",
        "sw-url": "/webforms/sw.js",
        "sw-scope": f"/projects/{project}/forms/{FORM}/preview",
    }
    assert "nothing is sent or saved" in page


def test_the_csp_allows_nothing_from_elsewhere() -> None:
    directives = dict(d.split(" ", 1) for d in WEBFORM_CSP.split("; "))
    for name, sources in directives.items():
        for source in sources.split():
            assert (
                source in {"'self'", "'none'", "data:", "blob:"}
                or (name == "script-src" and source == "'wasm-unsafe-eval'")
                or (name == "style-src" and source == "'unsafe-inline'")
            ), (name, source)
    assert directives["script-src"] == "'self' 'wasm-unsafe-eval'"
    assert directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"


def test_a_draft_preview_uses_the_drafts_xform_and_media(
    bundle: assets.Bundle, admin: Api, admin_page: Browser, project: int
) -> None:
    created = admin.post(
        f"/v1/projects/{project}/forms?publish=false&ignoreWarnings=true",
        data=site_check(),
        headers={"Content-Type": XLSX},
    )
    assert created.status_code == 200, created.get_json()
    fid = created.get_json()["xmlFormId"]
    logo = png()
    uploaded = admin.post(
        f"/v1/projects/{project}/forms/{fid}/draft/attachments/logo.png", data=logo
    )
    assert uploaded.status_code == 200
    # Never published: the preview shows the draft without being asked to.
    page = admin_page.text(f"/projects/{project}/forms/{fid}/preview")
    found = data_attributes(page)
    assert found["form-url"] == f"/v1/projects/{project}/forms/{fid}/draft.xml"
    assert found["attachments-url"] == f"/v1/projects/{project}/forms/{fid}/draft/attachments/"
    assert json.loads(found["media"]) == ["logo.png"]
    assert "draft version 1" in page
    media = admin.get(found["attachments-url"] + "logo.png")
    assert media.status_code == 200
    assert media.data == logo
    assert media.headers["X-Content-Type-Options"] == "nosniff"
    assert media.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert admin.get(found["form-url"]).status_code == 200


def test_who_may_preview(
    bundle: assets.Bundle,
    admin_page: Browser,
    browser: Browser,
    project: int,
    publish: Any,
    person: Any,
) -> None:
    publish(FORM)
    viewer = person("viewer@example.org")
    outsider = person("outsider@example.org")
    added = admin_page.post(
        f"/projects/{project}/members", {"email": "viewer@example.org", "role": "viewer"}
    )
    assert added.status_code == 303
    published = f"/projects/{project}/forms/{FORM}/preview"
    assert viewer.get(published).status_code == 200
    refused = viewer.get(published + "?draft=true")
    assert refused.status_code == 403
    assert "Not allowed" in refused.get_data(as_text=True)
    assert outsider.get(published).status_code == 404
    signed_out = browser.get(published)
    assert signed_out.status_code == 302
    assert "/login?next=" in signed_out.headers["Location"]
    assert admin_page.get(f"/projects/{project}/forms/no_such_form/preview").status_code == 404


def test_the_form_page_links_to_its_preview(
    admin_page: Browser, project: int, publish: Any
) -> None:
    publish(FORM)
    page = admin_page.text(f"/projects/{project}/forms/{FORM}")
    assert f'href="/projects/{project}/forms/{FORM}/preview">Preview</a>' in page


def test_without_the_bundle_the_preview_says_how_to_build_it(
    app_config: dict[str, Any], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    app_config["WEBFORMS_DIR"] = str(tmp_path / "not-built")
    app: Flask = request.getfixturevalue("app")
    request.getfixturevalue("admin")
    pid = request.getfixturevalue("project")
    request.getfixturevalue("publish")(FORM)
    page: Browser = request.getfixturevalue("admin_page")
    response = page.get(f"/projects/{pid}/forms/{FORM}/preview")
    assert response.status_code == 503
    assert "Run `collect assets build`" in html.unescape(response.get_data(as_text=True))
    # Nothing else needs the bundle.
    assert page.get(f"/projects/{pid}/forms/{FORM}").status_code == 200
    assert app.test_client().get("/webforms/sw.js").status_code == 404


def test_bundle_files_are_cached_for_good_and_sent_compressed(
    bundle: assets.Bundle, client: Any
) -> None:
    raw = (assets.OUTPUT_DIR / bundle.js.removeprefix("/webforms/")).read_bytes()
    plain = client.get(bundle.js)
    assert plain.status_code == 200
    assert plain.data == raw
    assert plain.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert plain.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert plain.headers["X-Content-Type-Options"] == "nosniff"
    assert "Accept-Encoding" in plain.headers["Vary"]
    zipped = client.get(bundle.js, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == raw
    brotli = client.get(bundle.js, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert brotli.headers["Content-Encoding"] == "br"
    assert len(brotli.data) < len(zipped.data) < len(raw)
    worker = client.get("/webforms/sw.js")
    assert worker.status_code == 200
    assert worker.headers["Service-Worker-Allowed"] == "/"
    assert worker.headers["Cache-Control"] == "no-cache"
    assert bundle.js.encode() in worker.data  # it precaches the page's module
    for path in (
        "/webforms/static/../manifest.json",
        "/webforms/static/%2e%2e/manifest.json",
        bundle.js + ".gz",
        "/webforms/static/nothing.js",
    ):
        assert client.get(path).status_code == 404, path


def test_the_bundle_stays_small(bundle: assets.Bundle) -> None:
    """What a first visit loads at once, compressed, stays well under the 1.5 MB target."""
    initial = [bundle.js, *bundle.preload] + ([bundle.css] if bundle.css else [])
    sizes = [bundle.sizes["static/" + url.removeprefix("/webforms/static/")] for url in initial]
    gzip_total = sum(s["gzip"] for s in sizes)
    latin_fonts = sum(
        s["raw"] for name, s in bundle.sizes.items() if re.search(r"roboto-latin-\d+-", name)
    )
    assert gzip_total + latin_fonts < 800_000, (gzip_total, latin_fonts)
    assert not any(name.endswith(".woff") for name in bundle.sizes), "woff copies are dropped"
