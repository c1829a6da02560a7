"""Turn an uploaded XLSForm or XForm into the XForm Collect downloads; problems get sheet/row."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import re
import shutil
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from pyxform.errors import PyXFormError
from pyxform.xls2json_backends import get_xlsform
from pyxform.xls2xform import convert as pyxform_convert

from collect.errors import BadRequest, InvalidForm, Problem, TooLarge

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLS = "application/vnd.ms-excel"
XML_TYPES = ("application/xml", "text/xml")
_ROW = re.compile(r"^\[row\s*:\s*(\d+)\]\s*")
_SHEET = re.compile(r"[Oo]n the '(\w+)' sheet")
_COLUMN = re.compile(r"the '([\w:() -]+)' (?:value|column)")
_UNKNOWN_TYPE = re.compile(r"Unknown question type '([^']+)'")
_TRUE = {"yes", "true", "1", "y", "true()"}
MAX_UNZIPPED_BYTES = 200_000_000


@dataclass(frozen=True)
class Converted:
    """An upload turned into an XForm, with what else the server keeps from the workbook."""

    xml: bytes
    workbook: bytes | None
    workbook_type: str | None  # ".xlsx" or ".xls"
    warnings: tuple[str, ...]
    sensitive: frozenset[str]  # question names marked in the survey sheet's `sensitive` column
    itemsets_csv: bytes | None


def file_type(content_type: str) -> str:
    """Map a request's Content-Type to ".xlsx", ".xls" or ".xml"."""
    base = content_type.split(";")[0].strip().lower()
    if base == XLSX:
        return ".xlsx"
    if base in (XLS, "application/msexcel", "application/x-msexcel"):
        return ".xls"
    if base in XML_TYPES:
        return ".xml"
    raise BadRequest(
        f"Cannot read a form sent as '{content_type or 'no Content-Type'}': send an XLSForm as "
        f"{XLSX} (.xlsx) or {XLS} (.xls), or an XForm as application/xml."
    )


def convert(body: bytes, content_type: str, *, fallback_id: str | None = None) -> Converted:
    """Convert an upload to XForm bytes; pyxform's complaints become located problems."""
    if not body:
        raise BadRequest("The request body is empty: send the XLSForm (.xlsx or .xls) or XForm.")
    kind = file_type(content_type)
    if kind == ".xml":
        return Converted(body, None, None, (), frozenset(), None)
    if kind == ".xlsx":
        _check_unzipped_size(body)
    try:
        definition = get_xlsform(body, file_type=kind)
    except PyXFormError as e:
        raise InvalidForm(
            f"The file is not a readable {kind} workbook. Save it from Excel, LibreOffice or "
            "Google Sheets as .xlsx and upload it again.",
            [Problem(str(e))],
        ) from e
    except Exception as e:  # xlrd/openpyxl raise many kinds on a corrupt file
        raise InvalidForm(
            f"The file is not a readable {kind} workbook: {e}. Save it again as .xlsx and retry."
        ) from e
    survey = list(definition.survey or [])
    settings = (definition.settings or [{}])[0] if definition.settings else {}
    if not (settings.get("form_id") or settings.get("id_string")) and not fallback_id:
        raise InvalidForm(
            "The form has no form_id.",
            [
                Problem(
                    "Add a form_id column with the form's id on the settings sheet "
                    "(or send the X-XlsForm-FormId-Fallback header).",
                    sheet="settings",
                    column="form_id",
                )
            ],
        )
    if fallback_id:
        definition.fallback_form_name = fallback_id
    warnings: list[str] = []
    try:
        result = pyxform_convert(xlsform=dataclasses.asdict(definition), warnings=warnings)
    except PyXFormError as e:
        raise InvalidForm("The XLSForm has a problem.", [_locate(str(e), survey)]) from e
    sensitive = frozenset(
        row.get("name", "")
        for row in survey
        if str(row.get("sensitive", "")).strip().lower() in _TRUE and row.get("name")
    )
    return Converted(
        xml=result.xform.encode("utf-8"),
        workbook=body,
        workbook_type=kind,
        warnings=tuple(warnings),
        sensitive=sensitive,
        itemsets_csv=result.itemsets.encode("utf-8") if result.itemsets else None,
    )


def _check_unzipped_size(body: bytes) -> None:
    """Refuse a workbook that would inflate to far more than any real form (a zip bomb)."""
    try:
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            inflated = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError) as e:
        raise InvalidForm(
            "The file is not a readable .xlsx workbook (it is not a zip archive). Save it from "
            "Excel, LibreOffice or Google Sheets as .xlsx and upload it again."
        ) from e
    if inflated > MAX_UNZIPPED_BYTES:
        raise TooLarge(
            f"The workbook unpacks to {inflated // 1_000_000} MB, more than the "
            f"{MAX_UNZIPPED_BYTES // 1_000_000} MB a form may have. Remove unused sheets or rows."
        )


def _locate(message: str, survey: list[dict[str, str]]) -> Problem:
    """Turn a pyxform message into a Problem with the sheet, row and column it names."""
    row: int | None = None
    sheet: str | None = None
    column: str | None = None
    match = _ROW.match(message)
    if match:
        row = int(match.group(1))
        message = message[match.end() :]
    if sheet_match := _SHEET.search(message):
        sheet = sheet_match.group(1)
    if column_match := _COLUMN.search(message):
        column = column_match.group(1)
    if unknown := _UNKNOWN_TYPE.search(message):
        sheet, column = "survey", "type"
        for index, entry in enumerate(survey):
            if str(entry.get("type", "")).strip() == unknown.group(1):
                row = index + 2  # the header is row 1
                break
    if sheet is None and "choices" in message.lower():
        sheet = "choices"
    return Problem(
        message.strip(), sheet=sheet or ("survey" if row else None), row=row, column=column
    )


def warning_problems(warnings: tuple[str, ...]) -> list[Problem]:
    return [_locate(w, []) for w in warnings]


def java_available() -> bool:
    return shutil.which("java") is not None


def validate(xml: bytes, mode: str) -> str:
    """Check an XForm with ODK Validate (JavaRosa); return "passed" or "skipped"."""
    if mode == "never" or (mode == "auto" and not java_available()):
        return "skipped"
    error = _odk_validate(hashlib.sha256(xml).hexdigest(), xml)
    if error is not None:
        raise InvalidForm(
            "ODK Collect's form engine (JavaRosa) rejects this form.", [Problem(error)]
        )
    return "passed"


@functools.lru_cache(maxsize=256)
def _odk_validate(sha256: str, xml: bytes) -> str | None:
    """Run the ODK Validate jar that pyxform ships; None when the form is valid.

    Cached by content: a JVM start costs seconds and the same XForm always gets the same answer.
    """
    import pyxform.validators.odk_validate as odk

    jar = Path(odk.__file__).parent / "bin" / "ODK_Validate.jar"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{sha256}.xml"
        path.write_bytes(xml)
        try:
            proc = subprocess.run(
                ["java", "-Djava.awt.headless=true", "-jar", str(jar), str(path)],
                capture_output=True,
                timeout=120,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return "ODK Validate did not finish within 120 seconds."
    if proc.returncode == 0:
        return None
    return _clean_validate_output(proc.stderr.decode("utf-8", "replace"))


def _clean_validate_output(text: str) -> str:
    lines = [
        line.strip()
        for line in text.splitlines()
        if line.strip()
        and not line.startswith("\tat ")
        and "Xpath Parser Exception" not in line
        and not line.startswith("Result:")
        and "failed validation" not in line
        and not line.startswith(">> XForm is invalid")
    ]
    text = " ".join(lines[:8]).replace("org.javarosa.xform.parse.XFormParseException: ", "")
    return re.sub(r",? ?Bad node: \S+", "", text) or "The form is invalid."
