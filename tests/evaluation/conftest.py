"""The spec's worked example as real XLSForms, and a phone that sends their submissions."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.helpers import XLSX, Api
from tests.workbooks import Rows, xlsx

INDICATOR_COLUMNS = (
    "name",
    "section",
    "label",
    "label::French (fr)",
    "type",
    "field",
    "condition",
    "by",
    "baseline_form",
    "key",
    "target",
)
# The sheet of evaluation.md's worked example, with French labels.
WORKED_INDICATORS: Rows = [
    INDICATOR_COLUMNS,
    (
        "trained",
        "participation",
        "Officials trained",
        "Fonctionnaires formés",
        "distinct",
        "participant_code",
        None,
        "sex institution",
        None,
        None,
        8,
    ),
    (
        "women_share",
        "participation",
        "Share of women",
        "Proportion de femmes",
        "percent",
        "sex",
        "${sex} = 'female'",
        None,
        None,
        None,
        50,
    ),
    (
        "knowledge_gain",
        "impact",
        "Change in knowledge score",
        "Évolution du score",
        "change",
        "score",
        None,
        "sex",
        "tot_pretest",
        "participant_code",
        2,
    ),
    (
        "satisfied",
        "impact",
        "Satisfied (4\N{EN DASH}5 of 5)",
        "Satisfaits (4\N{EN DASH}5 sur 5)",
        "percent",
        "satisfaction",
        "${satisfaction} >= 4",
        None,
        None,
        None,
        80,
    ),
]
CHOICES: Rows = [
    ("list_name", "name", "label::English (en)", "label::French (fr)"),
    ("sex", "female", "Female", "Femme"),
    ("sex", "male", "Male", "Homme"),
    ("sex", "other", "Other", "Autre"),
    ("institution", "government", "Government", "Gouvernement"),
    ("institution", "nhri", "NHRI", "INDH"),
    ("institution", "cso", "Civil society", "Société civile"),
]
SURVEY_HEADER = ("type", "name", "label::English (en)", "label::French (fr)")
BASE_QUESTIONS: Rows = [
    ("text", "participant_code", "Participant code", "Code du participant"),
    ("select_one sex", "sex", "Sex", "Sexe"),
    ("select_one institution", "institution", "Institution", "Institution"),
    ("integer", "score", "Score", "Score"),
]

PRE = [
    ("P1", "female", "government", "4"),
    ("P2", "female", "nhri", "5"),
    ("P3", "male", "government", "6"),
    ("P4", "male", "cso", "3"),
    ("P5", "female", "cso", "7"),
    ("P6", "female", "government", "2"),
]
POST = [
    ("P1", "female", "government", "8", "5"),
    ("P2", "female", "nhri", "6", "4"),
    ("P3", "male", "government", "6", "3"),
    ("P4", "male", "cso", "7", "5"),
    ("P5", "female", "cso", "9", "4"),
    ("P7", "male", "government", "5", "2"),
]
PRE_COLUMNS = ("participant_code", "sex", "institution", "score")
POST_COLUMNS = (*PRE_COLUMNS, "satisfaction")


def workbook(
    form_id: str,
    *,
    questions: Rows = BASE_QUESTIONS,
    indicators: Rows | None = None,
    version: str = "1",
) -> bytes:
    """An XLSForm in English and French, with an `indicators` sheet when given."""
    return xlsx(
        [SURVEY_HEADER, *questions],
        choices=CHOICES,
        settings=[
            ("form_id", "version", "form_title", "default_language"),
            (form_id, version, form_id, "English (en)"),
        ],
        extra={"indicators": indicators} if indicators is not None else None,
    )


def pretest(**kw: Any) -> bytes:
    return workbook("tot_pretest", **kw)


def posttest(indicators: Rows = WORKED_INDICATORS, **kw: Any) -> bytes:
    questions = [*BASE_QUESTIONS, ("integer", "satisfaction", "Satisfaction", "Satisfaction")]
    return workbook("tot_posttest", questions=kw.pop("questions", questions), indicators=indicators)


def upload(admin: Api, pid: int, body: bytes, *, publish: bool = True) -> Any:
    """POST a workbook to the project's forms, as an admin's browser or pyodk does."""
    flag = "true" if publish else "false"
    return admin.post(
        f"/v1/projects/{pid}/forms?publish={flag}", data=body, headers={"Content-Type": XLSX}
    )


def published(admin: Api, pid: int, body: bytes) -> str:
    response = upload(admin, pid, body)
    assert response.status_code == 200, response.get_json()
    xml_form_id: str = response.get_json()["xmlFormId"]
    return xml_form_id


def instance(
    form_id: str,
    values: Mapping[str, str],
    *,
    instance_id: str | None = None,
    deprecated_id: str | None = None,
    version: str = "1",
) -> tuple[str, bytes]:
    """A submission as ODK Collect writes it; returns its instanceID and XML."""
    instance_id = instance_id or f"uuid:{uuid.uuid4()}"
    answers = "".join(f"<{k}>{v}</{k}>" for k, v in values.items())
    deprecated = f"<deprecatedID>{deprecated_id}</deprecatedID>" if deprecated_id else ""
    xml = (
        f'<data id="{form_id}" version="{version}">{answers}'
        f"<meta><instanceID>{instance_id}</instanceID>{deprecated}</meta></data>"
    )
    return instance_id, xml.encode()


@dataclass
class Phone:
    """An app user's device: sends submissions through the OpenRosa endpoint."""

    client: FlaskClient
    project: int
    token: str

    def send(self, form_id: str, values: Mapping[str, str], **kw: Any) -> str:
        instance_id, xml = instance(form_id, values, **kw)
        response = self.client.post(
            f"/v1/key/{self.token}/projects/{self.project}/submission",
            data={"xml_submission_file": (io.BytesIO(xml), "submission.xml", "text/xml")},
            headers={"X-OpenRosa-Version": "1.0"},
            content_type="multipart/form-data",
        )
        assert response.status_code == 201, response.get_data(as_text=True)
        return instance_id

    def send_rows(
        self, form_id: str, columns: Sequence[str], rows: Sequence[Sequence[str]]
    ) -> list[str]:
        return [self.send(form_id, dict(zip(columns, row, strict=True))) for row in rows]


@pytest.fixture
def phone(client: FlaskClient, project: int, app_user: Callable[..., dict[str, Any]]) -> Any:
    """A phone assigned to the given forms (publish them first)."""

    def _make(*xml_form_ids: str) -> Phone:
        return Phone(client, project, app_user(*xml_form_ids)["token"])

    return _make


@pytest.fixture
def worked(admin: Api, project: int, phone: Callable[..., Phone]) -> Phone:
    """The worked example: both forms published and the twelve submissions sent."""
    published(admin, project, pretest())
    published(admin, project, posttest())
    device = phone("tot_pretest", "tot_posttest")
    device.send_rows("tot_pretest", PRE_COLUMNS, PRE)
    device.send_rows("tot_posttest", POST_COLUMNS, POST)
    return device


def set_min_cell(admin: Api, pid: int, min_cell: int) -> None:
    response = admin.patch(f"/v1/projects/{pid}", json={"minCell": min_cell})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["minCell"] == min_cell
