"""The forms and submissions the pyodk-driven tests send: the same kinds pyodk's own suite uses
(a workbook with a CSV lookup, an XForm, a file question), written for this project."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tests.workbooks import xlsx

# Form ids with the characters pyodk's suite uses: quote, equals, plus, slash, star, percent.
SPECIAL_ID = "'=+/*-2026%/%"
DINGBAT_ID = "✅"
LOOKUP_CSV = "districts.csv"
XFORMS = "http://www.w3.org/2002/xforms"


def stamp() -> str:
    """A version string that changes on every call, as pyodk's suite makes them."""
    return datetime.now(UTC).isoformat()


def lookup_workbook(version: str | None = None, form_id: str | None = None) -> bytes:
    """A form whose calculation reads districts.csv; without `form_id` the workbook names none,
    so the server takes the id pyodk sends in X-XlsForm-FormId-Fallback."""
    settings: list[tuple[str, ...]] = [("version",), (version or stamp(),)]
    if form_id is not None:
        settings = [("form_id", "version", "form_title"), (form_id, version or "1", form_id)]
    return xlsx(
        [
            ("type", "name", "label", "calculation"),
            ("calculate", "district", "", "pulldata('districts', 'name', 'code', 'N1')"),
            ("note", "district_note", "The district is ${district}", ""),
        ],
        settings=settings,
    )


def write_lookup_csv(folder: Path) -> Path:
    path = folder / LOOKUP_CSV
    path.write_text("code,name\nN1,North\nS1,South\n", encoding="utf-8")
    return path


def upload_workbook(form_id: str = "document_upload") -> bytes:
    """A form with a file question."""
    return xlsx(
        [("type", "name", "label"), ("text", "name", "Name"), ("file", "document", "Document")],
        settings=[("form_id", "version", "form_title"), (form_id, "1", "Document upload")],
    )


def xform(form_id: str, version: str | None = None) -> str:
    """An XForm XML document with one range question, as a string."""
    return f"""<?xml version="1.0"?>
<h:html xmlns="{XFORMS}" xmlns:h="http://www.w3.org/1999/xhtml"
        xmlns:jr="http://openrosa.org/javarosa" xmlns:odk="http://www.opendatakit.org/xforms">
  <h:head>
    <h:title>Satisfaction</h:title>
    <model odk:xforms-version="1.0.0">
      <instance>
        <data id="{form_id}" version="{version or stamp()}">
          <score/>
          <meta><instanceID/></meta>
        </data>
      </instance>
      <bind nodeset="/data/score" type="int"/>
      <bind nodeset="/data/meta/instanceID" type="string" readonly="true()" jr:preload="uid"/>
    </model>
  </h:head>
  <h:body>
    <range ref="/data/score" start="1" end="5" step="1"><label>Score</label></range>
  </h:body>
</h:html>
"""


def lookup_submission(
    form_id: str, version: str, instance_id: str, deprecated_id: str | None = None
) -> str:
    """A submission to the lookup form. Ids go in as they are, unescaped, as pyodk's suite
    puts them: an `&` in an instance id reaches the server bare."""
    deprecated = f"<deprecatedID>{deprecated_id}</deprecatedID>" if deprecated_id else ""
    return (
        f'<data id="{form_id}" version="{version}"><meta>{deprecated}'
        f"<instanceID>{instance_id}</instanceID></meta>"
        "<district>North</district><district_note/></data>"
    )


def upload_submission(instance_id: str, file_name: str, form_id: str = "document_upload") -> str:
    return (
        f'<data id="{form_id}" version="1"><meta><instanceID>{instance_id}</instanceID></meta>'
        f"<name>Amina</name><document>{file_name}</document></data>"
    )
