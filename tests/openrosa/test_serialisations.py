"""Instances written by JavaRosa itself (the engine inside ODK Collect) go through unchanged."""

from __future__ import annotations

from typing import Any

from flask import Flask

from tests.helpers import Api
from tests.openrosa import samples
from tests.openrosa.collect_device import CollectDevice, Instance
from tests.openrosa.conftest import stored
from tests.openrosa.javarosa import JavaRosa

CONSULTATION = {
    "consultation": "nhrap",
    "session_date": "2026-03-02",
    "region": "north",
    "venue": "Salle des fêtes & annexe <B>",
    "location": "12.5 -1.25 300 5",
    "women": "12",
    "men": "9",
    "persons_with_disabilities": "2",
    "youth": "4",
    "civil_society_orgs": "3",
    "government_officials": "2",
    "recommendation.count": "1",
    "theme": "access_to_justice",
    "recommendation_text": "Établir des tribunaux mobiles",
    "raised_by": "cso",
    "priority": "high",
}


def test_a_javarosa_instance_with_repeats(
    app: Flask, publish: Any, phone: Any, javarosa: JavaRosa
) -> None:
    form_id = publish("consultation_record")
    device: CollectDevice = phone(form_id)
    [listed] = device.form_list()
    form = device.download(listed)
    xml = javarosa.fill(form.xml, {**CONSULTATION, "deviceid": device.device_id})
    # What JavaRosa writes: single-quoted declaration, namespaces on the root, `<x />`.
    assert xml.startswith(
        b"<?xml version='1.0' encoding='UTF-8' ?><data id=\"consultation_record\""
    )
    assert b'xmlns:jr="http://openrosa.org/javarosa"' in xml
    assert b"<count_intro />" in xml

    assert device.send(Instance(xml)).success
    [row] = stored(app)
    assert row["xml"] == xml
    data = row["data"]
    assert data["/venue"] == "Salle des fêtes & annexe <B>"
    assert data["/total"] == "21"  # JavaRosa computed the calculate
    assert data["/deviceid"] == device.device_id
    assert data["/count_intro"] == ""
    assert [r["/recommendation/recommendation_text"] for r in data["/recommendation"]] == [
        "Établir des tribunaux mobiles",
        "Établir des tribunaux mobiles",
    ]


def test_a_javarosa_instance_with_a_photo_and_an_edit(
    app: Flask, admin: Api, project: int, publish: Any, phone: Any, javarosa: JavaRosa
) -> None:
    form_id = publish("beneficiary_feedback")
    device: CollectDevice = phone(form_id)
    [listed] = device.form_list()
    form = device.download(listed)
    photo = samples.jpeg(5000, seed=4)
    answers = {
        "consent": "yes",
        "project": "reparations",
        "sex": "female",
        "age": "34",
        "group": "hrd",
        "disability": "no",
        "region": "east",
        "participated_in_design": "partly",
        "felt_heard": "4",
        "access_barriers": "distance language",
        "photo": "1712345678901.jpg",
        "contact_ok": "no",
    }
    xml = javarosa.fill(form.xml, answers)
    assert device.send(Instance(xml, [("1712345678901.jpg", photo)])).success
    [row] = stored(app)
    assert row["data"]["/access_barriers"] == "distance language"
    assert row["attachments"] == {"1712345678901.jpg": samples.sha256(photo)}
    # Collect's edit: the same instance with the old instanceID moved to deprecatedID.
    original = row["instance_id"]
    edited = samples.as_edit(xml, original)
    assert device.send(Instance(edited)).success
    first, second = stored(app)
    assert second["deprecated_id"] == original
    assert second["attachments"] == first["attachments"]
    base = f"/v1/projects/{project}/forms/{form_id}/submissions/{original}"
    assert admin.get(f"{base}.xml").data == edited
