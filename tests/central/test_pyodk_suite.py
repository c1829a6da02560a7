"""pyodk driven through every call and argument of its own end-to-end suite (pyodk 1.3.0,
`tests/test_client.py`), against a live collect on each database.

The calls, their arguments and the shapes of what is sent follow that suite: workbooks without
a form id (the server takes pyodk's X-XlsForm-FormId-Fallback), form ids with `/`, `%` and `'`,
a dingbat form id, instance ids with `&` and `%`, attachments, drafts published with a
`version_updater`, app users given forms. The forms and the checks are this project's own.
Entities are issue 14; their tests are listed here as skipped so the gap stays visible.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from lxml import etree
from pyodk._utils import config as pyodk_config
from pyodk._utils.session import Session
from pyodk.client import Client
from pyodk.errors import PyODKError

from tests.central import forms, steps
from tests.central.conftest import Central

OPENROSA = {"X-OpenRosa-Version": "1.0"}


# Helpers ---------------------------------------------------------------------------------------


def _attachments(pyodk: Client, form_id: str) -> dict[str, bool]:
    url = pyodk.session.urlformat(
        "projects/{pid}/forms/{fid}/attachments", pid=pyodk.project_id, fid=form_id
    )
    response = pyodk.session.get(url)
    assert response.status_code == 200, response.text
    return {a["name"]: a["exists"] for a in response.json()}


def _submit_then_edit(pyodk: Client, form_id: str, instance_id: str, comment: str) -> str:
    """Create a submission, then edit it with a new instanceID and a comment; return the
    edit's instanceID."""
    version = steps.latest_version(pyodk, form_id)
    pyodk.submissions.create(
        xml=forms.lookup_submission(form_id, version, instance_id), form_id=form_id
    )
    edit_id = uuid.uuid4().hex
    pyodk.submissions.edit(
        xml=forms.lookup_submission(form_id, version, edit_id, deprecated_id=instance_id),
        form_id=form_id,
        instance_id=instance_id,
        comment=comment,
    )
    return edit_id


def _form_list(central: Central, project_id: int, token: str) -> list[str]:
    response = requests.get(
        f"{central.url}/v1/key/{token}/projects/{project_id}/formList", headers=OPENROSA, timeout=30
    )
    assert response.status_code == 200, response.text
    root = etree.fromstring(response.content)
    return sorted(str(e.text) for e in root.iter("{*}formID"))


# Reading ----------------------------------------------------------------------------------------


def test_every_read_pyodk_makes_returns_data(pyodk: Client, tmp_path: Path) -> None:
    form_id = steps.lookup_form(pyodk, tmp_path)
    first, second = "uuid:0b9e6d5c-1d7e-4f55-9c1a-5b7f3e2a9d01", "uuid:6f1c2a3b-7e8d-4c5b-a9f0"
    _submit_then_edit(pyodk, form_id, first, "Corrected the district")
    _submit_then_edit(pyodk, form_id, second, "Corrected the district")

    assert pyodk.project_id in [p.id for p in pyodk.projects.list()]
    assert [f.xmlFormId for f in pyodk.forms.list()] == [form_id]
    listed = pyodk.submissions.list(form_id=form_id)
    assert sorted(s.instanceId for s in listed) == sorted([first, second])
    assert {s.reviewState for s in listed} == {"edited"}
    table = pyodk.submissions.get_table(form_id=form_id)
    assert len(table["value"]) == 2
    selected = pyodk.submissions.get_table(
        form_id=form_id,
        table_name="Submissions",
        count=True,
        select="__id,meta/instanceID,__system/formVersion,district",
    )
    assert selected["@odata.count"] == 2
    row = selected["value"][0]
    assert set(row) == {"__id", "meta", "__system", "district"}
    assert row["district"] == "North"
    assert row["__system"]["formVersion"] == steps.latest_version(pyodk, form_id)
    comments = pyodk.submissions.list_comments(form_id=form_id, instance_id=listed[0].instanceId)
    assert [c.body for c in comments] == ["Corrected the district"]


def test_client_used_as_a_context_manager(central: Central, pyodk: Client, tmp_path: Path) -> None:
    form_id = steps.lookup_form(pyodk, tmp_path)
    with central.client(pyodk.project_id) as opened:
        assert pyodk.project_id in [p.id for p in opened.projects.list()]
        assert [f.xmlFormId for f in opened.forms.list()] == [form_id]


def test_get_xml_returns_the_xform(pyodk: Client, tmp_path: Path) -> None:
    form_id = steps.lookup_form(pyodk, tmp_path)
    xml = pyodk.forms.get_xml(form_id=form_id)
    assert isinstance(xml, str)
    assert f"<h:title>{form_id}</h:title>" in xml
    assert pyodk.forms.get_xml(form_id=form_id, encoding=None) == xml.encode("utf-8")


# Creating forms ---------------------------------------------------------------------------------


def test_create_from_an_xform_string_with_a_generated_id(pyodk: Client) -> None:
    form_id = pyodk.session.get_xform_uuid()
    assert form_id.startswith("uuid:")
    created = pyodk.forms.create(form_id=form_id, definition=forms.xform(form_id))
    assert created.xmlFormId == form_id
    assert pyodk.forms.get(form_id).publishedAt is not None


def test_create_from_workbook_bytes_takes_the_fallback_id(pyodk: Client) -> None:
    # The workbook names no form id, so pyodk sends a generated "uuid:…" id, percent-encoded.
    created = pyodk.forms.create(definition=forms.lookup_workbook())
    assert created.xmlFormId.startswith("uuid:")
    assert pyodk.forms.get(created.xmlFormId).publishedAt is not None


def test_create_from_workbook_bytes_with_an_attachment(pyodk: Client, tmp_path: Path) -> None:
    created = pyodk.forms.create(
        definition=forms.lookup_workbook(),
        attachments=[forms.write_lookup_csv(tmp_path).as_posix()],
    )
    assert created.xmlFormId.startswith("uuid:")
    assert _attachments(pyodk, created.xmlFormId) == {forms.LOOKUP_CSV: True}


def test_creating_an_existing_form_again_is_409_3(pyodk: Client, tmp_path: Path) -> None:
    # pyodk's suite sets up its forms with create, and treats 409.3 as "already there".
    form_id = steps.lookup_form(pyodk, tmp_path)
    path = tmp_path / f"{form_id}.xlsx"
    with pytest.raises(PyODKError) as raised:
        pyodk.forms.create(definition=path, form_id=form_id)
    assert raised.value.is_central_error(code=409.3)


# Updating forms ---------------------------------------------------------------------------------


def test_update_with_a_new_xform_file(pyodk: Client, tmp_path: Path) -> None:
    # Created from an .xml file, as pyodk's suite sets up its XForm; updated from another.
    form_id = "satisfaction"
    first = tmp_path / "first.xml"
    first.write_text(forms.xform(form_id, "1"), encoding="utf-8")
    pyodk.forms.create(definition=first, form_id=form_id)
    path = tmp_path / "satisfaction.xml"
    path.write_text(forms.xform(form_id, "2"), encoding="utf-8")
    pyodk.forms.update(form_id=form_id, definition=path.as_posix())
    assert pyodk.forms.get(form_id).version == "2"
    assert sorted(v["version"] for v in steps.versions(pyodk, form_id)) == ["1", "2"]


def test_update_with_a_new_workbook_and_an_attachment(pyodk: Client, tmp_path: Path) -> None:
    form_id = steps.lookup_form(pyodk, tmp_path)
    before = pyodk.forms.get(form_id).version
    path = tmp_path / f"{form_id}.xlsx"
    path.write_bytes(forms.lookup_workbook())
    pyodk.forms.update(
        form_id=form_id,
        definition=path.as_posix(),
        attachments=[(tmp_path / forms.LOOKUP_CSV).as_posix()],
    )
    assert pyodk.forms.get(form_id).version != before
    assert len(steps.versions(pyodk, form_id)) == 2
    assert _attachments(pyodk, form_id) == {forms.LOOKUP_CSV: True}


def test_update_a_dingbat_form_with_a_workbook_and_an_attachment(
    pyodk: Client, tmp_path: Path
) -> None:
    first = tmp_path / "first" / f"{forms.DINGBAT_ID}.xlsx"
    first.parent.mkdir()
    first.write_bytes(forms.lookup_workbook(form_id=forms.DINGBAT_ID))
    created = pyodk.forms.create(
        definition=first, form_id=forms.DINGBAT_ID, attachments=[forms.write_lookup_csv(tmp_path)]
    )
    assert created.xmlFormId == forms.DINGBAT_ID
    # The new workbook names no id: the server takes it from the file name pyodk encodes.
    path = tmp_path / f"{forms.DINGBAT_ID}.xlsx"
    version = forms.stamp()
    path.write_bytes(forms.lookup_workbook(version))
    pyodk.forms.update(
        form_id=forms.DINGBAT_ID,
        definition=path.as_posix(),
        attachments=[(tmp_path / forms.LOOKUP_CSV).as_posix()],
    )
    form = pyodk.forms.get(forms.DINGBAT_ID)
    assert form.xmlFormId == forms.DINGBAT_ID
    assert form.version == version


def test_update_a_special_id_with_a_version_updater_and_no_attachments(
    pyodk: Client, tmp_path: Path
) -> None:
    form_id = steps.special_form(pyodk, tmp_path)
    assert form_id == forms.SPECIAL_ID
    seen: list[str] = []

    def next_version(current: str) -> str:
        seen.append(current)
        return f"{current}.next"

    pyodk.forms.update(form_id=form_id, attachments=[], version_updater=next_version)
    assert seen == ["1"]
    assert pyodk.forms.get(form_id).version == "1.next"
    assert steps.latest_version(pyodk, form_id) == "1.next"


def test_update_attachments_only_sets_a_timestamp_version(pyodk: Client, tmp_path: Path) -> None:
    form_id = steps.lookup_form(pyodk, tmp_path)
    before = pyodk.forms.get(form_id).version
    pyodk.forms.update(form_id=form_id, attachments=[(tmp_path / forms.LOOKUP_CSV).as_posix()])
    after = pyodk.forms.get(form_id).version
    assert after != before
    datetime.fromisoformat(after)  # pyodk names the version after the time, when not told
    assert _attachments(pyodk, form_id) == {forms.LOOKUP_CSV: True}


def test_update_attachments_with_a_version_updater(pyodk: Client, tmp_path: Path) -> None:
    form_id = steps.lookup_form(pyodk, tmp_path)
    before = pyodk.forms.get(form_id).version
    pyodk.forms.update(
        form_id=form_id,
        attachments=[(tmp_path / forms.LOOKUP_CSV).as_posix()],
        version_updater=lambda v: v + "_1",
    )
    assert pyodk.forms.get(form_id).version == before + "_1"


# App users --------------------------------------------------------------------------------------


def test_create_app_users_by_name_only(central: Central, pyodk: Client, tmp_path: Path) -> None:
    steps.lookup_form(pyodk, tmp_path)
    created = pyodk.projects.create_app_users(display_names=["Team North", "Team South"])
    assert sorted(u.displayName for u in created) == ["Team North", "Team South"]
    assert all(u.token for u in created)
    # Without forms, a phone configured with the app user sees nothing to fill.
    assert _form_list(central, pyodk.project_id, created[0].token) == []


def test_create_app_users_and_give_them_forms(
    central: Central, pyodk: Client, tmp_path: Path
) -> None:
    lookup = steps.lookup_form(pyodk, tmp_path)
    pyodk.forms.create(form_id="satisfaction", definition=forms.xform("satisfaction"))
    created = pyodk.projects.create_app_users(
        display_names=["Team East", "Team West"], forms=[lookup, "satisfaction"]
    )
    assert len(created) == 2
    for app_user in created:
        assert _form_list(central, pyodk.project_id, app_user.token) == sorted(
            [lookup, "satisfaction"]
        )


# Submissions ------------------------------------------------------------------------------------


def test_create_a_submission_with_special_characters_in_both_ids(
    pyodk: Client, tmp_path: Path
) -> None:
    form_id = steps.special_form(pyodk, tmp_path)
    instance_id = f"new+~!@#$%^&*()_+=-✅✅+{forms.stamp()}"
    pyodk.submissions.create(
        xml=forms.lookup_submission(form_id, steps.latest_version(pyodk, form_id), instance_id),
        form_id=form_id,
    )
    got = pyodk.submissions.get(form_id=form_id, instance_id=instance_id)
    assert got.instanceId == instance_id
    assert got.attachments is None


def test_create_a_submission_with_an_attachment(pyodk: Client, tmp_path: Path) -> None:
    pyodk.forms.create(definition=forms.upload_workbook(), form_id="document_upload")
    document = tmp_path / "minutes.csv"
    document.write_bytes(b"item,decision\nbudget,approved\n")
    created = pyodk.submissions.create(
        xml=forms.upload_submission(pyodk.session.get_xform_uuid(), document.name),
        form_id="document_upload",
        attachments=[document],
    )
    [attachment] = created.attachments
    assert (attachment.name, attachment.exists) == (document.name, True)
    url = pyodk.session.urlformat(
        "projects/{pid}/forms/{fid}/submissions/{iid}/attachments/{name}",
        pid=pyodk.project_id,
        fid="document_upload",
        iid=created.instanceId,
        name=document.name,
    )
    assert pyodk.session.get(url).content == document.read_bytes()


def test_resending_an_instance_id_is_409_3(pyodk: Client, tmp_path: Path) -> None:
    # pyodk's suite creates a submission or, on 409.3, reads the versions of the one there.
    form_id = steps.lookup_form(pyodk, tmp_path)
    xml = forms.lookup_submission(form_id, steps.latest_version(pyodk, form_id), "uuid:resent-1")
    pyodk.submissions.create(xml=xml, form_id=form_id)
    with pytest.raises(PyODKError) as raised:
        pyodk.submissions.create(xml=xml, form_id=form_id)
    assert raised.value.is_central_error(code=409.3)
    url = pyodk.session.urlformat(
        "projects/{pid}/forms/{fid}/submissions/{iid}/versions",
        pid=pyodk.project_id,
        fid=form_id,
        iid="uuid:resent-1",
    )
    assert [v["instanceId"] for v in pyodk.session.get(url).json()] == ["uuid:resent-1"]


def test_edit_a_submission_with_special_characters_in_both_ids(
    pyodk: Client, tmp_path: Path
) -> None:
    form_id = steps.special_form(pyodk, tmp_path)
    instance_id = "edit_~~!@#$%^&*()_+=-✅✅"
    version = steps.latest_version(pyodk, form_id)
    first = pyodk.submissions.create(
        xml=forms.lookup_submission(form_id, version, instance_id), form_id=form_id
    ).instanceId
    assert first == instance_id
    edit_id = instance_id + forms.stamp()
    pyodk.submissions.edit(
        xml=forms.lookup_submission(form_id, version, edit_id, deprecated_id=first),
        form_id=form_id,
        instance_id=instance_id,
        comment="Edited through pyodk",
    )
    got = pyodk.submissions.get(form_id=form_id, instance_id=instance_id)
    assert got.reviewState == "edited"
    url = pyodk.session.urlformat(
        "projects/{pid}/forms/{fid}/submissions/{iid}/versions",
        pid=pyodk.project_id,
        fid=form_id,
        iid=instance_id,
    )
    versions = pyodk.session.get(url).json()
    assert [v["instanceId"] for v in versions] == [edit_id, instance_id]
    comments = pyodk.submissions.list_comments(form_id=form_id, instance_id=instance_id)
    assert [c.body for c in comments] == ["Edited through pyodk"]


# Ways to build a Client -------------------------------------------------------------------------


def _default(central: Central) -> Client:
    return Client()


def _with_config_and_cache_path(central: Central) -> Client:
    return Client(config=pyodk_config.read_config(), cache_path=pyodk_config.get_cache_path())


def _session(config: Any, cache_path: Any = None) -> Session:
    return Session(
        base_url=config.central.base_url,
        api_version="v1",
        username=config.central.username,
        password=config.central.password,
        cache_path=cache_path,
    )


def _with_session_and_cache(central: Central) -> Client:
    config = pyodk_config.read_config()
    return Client(config=config, session=_session(config, pyodk_config.get_cache_path()))


def _with_session_without_cache(central: Central) -> Client:
    config = pyodk_config.read_config()
    return Client(config=config, session=_session(config))


@pytest.mark.parametrize(
    "build",
    [_default, _with_config_and_cache_path, _with_session_and_cache, _with_session_without_cache],
)
def test_every_way_to_build_a_client_can_list_forms(
    build: Any, central: Central, pyodk: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYODK_CONFIG_FILE", str(central.config))
    monkeypatch.setenv("PYODK_CACHE_FILE", str(tmp_path / "cache.toml"))
    form_id = steps.lookup_form(pyodk, tmp_path)
    built = build(central)
    assert [f.xmlFormId for f in built.forms.list(project_id=pyodk.project_id)] == [form_id]


def test_a_session_without_a_cache_writes_no_file(
    central: Central, pyodk: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "never-written.toml"
    monkeypatch.setenv("PYODK_CACHE_FILE", str(cache))
    config = pyodk_config.read_config(config_path=central.config)
    config_text = central.config.read_text()
    for _ in range(2):
        built = Client(config=config, session=_session(config))
        built.forms.list(project_id=pyodk.project_id)
        assert built.session.headers["Authorization"].startswith("Bearer ")
    assert not cache.exists()
    assert central.config.read_text() == config_text


# Entities (issue 14) ----------------------------------------------------------------------------

ENTITIES = pytest.mark.skip(reason="Entities and entity lists are issue 14: not implemented yet")


@ENTITIES
@pytest.mark.parametrize(
    "pyodk_test",
    [
        "entities__create_and_query",
        "entities__update",
        "entity__merge__new",
        "entity__merge__existing__add_props__delete_unmatched",
        "entity__merge__existing__ignore_props__keep_unmatched",
        "entity_lists__list",
        "entity_lists__create_and_query",
        "entity_lists__add_property",
    ],
)
def test_entities(pyodk_test: str) -> None:
    """pyodk's entity tests: entities.create/list/get_table/update/merge/create_many and
    entity_lists.create/list/get/add_property."""
