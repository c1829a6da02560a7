"""pyodk calls the Central tests share: make the forms pyodk's suite makes, read versions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pyodk.client import Client

from tests.central import forms


def lookup_form(client: Client, folder: Path, name: str = "district_lookup") -> str:
    """Create and publish the lookup form from `<name>.xlsx` (no form id inside), with its CSV."""
    path = folder / f"{name}.xlsx"
    path.write_bytes(forms.lookup_workbook())
    created = client.forms.create(
        definition=path, form_id=name, attachments=[forms.write_lookup_csv(folder)]
    )
    return str(created.xmlFormId)


def special_form(client: Client, folder: Path, form_id: str = forms.SPECIAL_ID) -> str:
    """Create and publish a lookup form whose workbook names an id full of URL characters."""
    path = folder / "special_characters.xlsx"
    path.write_bytes(forms.lookup_workbook(form_id=form_id))
    created = client.forms.create(
        definition=path, form_id="special_characters", attachments=[forms.write_lookup_csv(folder)]
    )
    return str(created.xmlFormId)


def versions(client: Client, form_id: str) -> list[dict[str, Any]]:
    url = client.session.urlformat(
        "projects/{pid}/forms/{fid}/versions", pid=client.project_id, fid=form_id
    )
    response = client.session.get(url)
    assert response.status_code == 200, response.text
    listed: list[dict[str, Any]] = response.json()
    return listed


def latest_version(client: Client, form_id: str) -> str:
    """The newest published version's name, found the way pyodk's suite finds it."""
    newest = max(versions(client, form_id), key=lambda v: v["publishedAt"])
    return str(newest["version"])
