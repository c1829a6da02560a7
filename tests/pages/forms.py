"""The small bilingual form the browser tests upload: broken first, then fixed, with media."""

from __future__ import annotations

import io
import uuid
from typing import Any

from tests.workbooks import xlsx

EN = "English (en)"
FR = "French (fr)"
FORM_ID = "site_visit"
MEDIA = (f"media::image::{EN}", f"media::image::{FR}")


def site_visit(*, broken: bool = False, version: str = "1") -> bytes:
    """A site visit: a village, a yes/no question, a photo, and a note showing logo.png."""
    return xlsx(
        [
            ("type", "name", f"label::{EN}", f"label::{FR}", *MEDIA, "parameters"),
            ("txt" if broken else "text", "village", "Village", "Village", None, None, None),
            ("select_one yes_no", "water", "Is there clean water?", "Eau potable ?", None, None),
            ("image", "photo", "Photo of the site", "Photo du site", None, None, "max-pixels=1024"),
            ("note", "logo_note", "Project logo", "Logo du projet", "logo.png", "logo.png", None),
        ],
        choices=[
            ("list_name", "name", f"label::{EN}", f"label::{FR}"),
            ("yes_no", "yes", "Yes", "Oui"),
            ("yes_no", "no", "No", "Non"),
        ],
        settings=[
            ("form_id", "form_title", "version", "default_language"),
            (FORM_ID, "Site visit", version, EN),
        ],
        extra={
            "indicators": [
                ("name", "section", "label", "type", "field", "condition", "by", "target"),
                ("visits", "participation", "Site visits", "count", None, None, "water", None),
                (
                    "clean_water",
                    "impact",
                    "Sites with clean water",
                    "percent",
                    "water",
                    "${water} = 'yes'",
                    None,
                    "80",
                ),
            ]
        },
    )


def submission(village: str, water: str, *, photo: str | None = None, version: str = "1") -> bytes:
    """A site visit as ODK Collect sends it."""
    instance = f"uuid:{uuid.uuid4()}"
    return (
        f'<?xml version="1.0"?><data id="{FORM_ID}" version="{version}">'
        f"<village>{village}</village><water>{water}</water>"
        f"<photo>{photo or ''}</photo><logo_note/>"
        f"<meta><instanceID>{instance}</instanceID></meta></data>"
    ).encode()


def send(post: Any, token: str, pid: int, xml: bytes, files: dict[str, bytes] | None = None) -> Any:
    """POST one submission to the OpenRosa endpoint with `post(url, data=..., **kw)`."""
    data: dict[str, Any] = {"xml_submission_file": (io.BytesIO(xml), "submission.xml", "text/xml")}
    for name, body in (files or {}).items():
        data[name] = (io.BytesIO(body), name, "image/png")
    return post(
        f"/v1/key/{token}/projects/{pid}/submission",
        data=data,
        headers={"X-OpenRosa-Version": "1.0"},
        content_type="multipart/form-data",
    )
