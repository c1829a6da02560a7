"""domain/xform.py on literal XML: fields of an XForm, metadata and values of submissions."""

from __future__ import annotations

import pytest

from collect.domain.forms import xform
from collect.errors import InvalidForm, InvalidSubmission

FORM = b"""<?xml version="1.0"?>
<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml"
  xmlns:jr="http://openrosa.org/javarosa">
 <h:head><h:title>Consultation</h:title><model>
  <itext>
   <translation lang="English (en)" default="true()">
    <text id="/data/region:label"><value>Region</value></text>
    <text id="r-0"><value>North</value></text>
    <text id="r-1"><value>South</value></text>
   </translation>
   <translation lang="French (fr)">
    <text id="/data/region:label"><value>R\xc3\xa9gion</value></text>
    <text id="r-0"><value>Nord</value></text>
    <text id="r-1"><value>Sud</value></text>
   </translation>
  </itext>
  <instance><data id="consult" version="3">
    <region/><grp><women/></grp>
    <rec jr:template=""><theme/><photo/></rec>
    <meta><instanceID/></meta></data></instance>
  <instance id="regions"><root>
    <item><itextId>r-0</itextId><name>north</name></item>
    <item><itextId>r-1</itextId><name>south</name></item>
  </root></instance>
  <bind nodeset="/data/region" type="string"/>
  <bind nodeset="/data/grp/women" type="int"/>
  <bind nodeset="/data/rec/theme" type="string"/>
  <bind nodeset="/data/rec/photo" type="binary"/>
  <bind nodeset="/data/meta/instanceID" type="string" readonly="true()" jr:preload="uid"/>
 </model></h:head>
 <h:body>
  <select1 ref="/data/region"><label ref="jr:itext('/data/region:label')"/>
   <itemset nodeset="instance('regions')/root/item"><value ref="name"/>
    <label ref="jr:itext(itextId)"/></itemset></select1>
  <group ref="/data/grp"><input ref="/data/grp/women"><label>Women</label></input></group>
  <group ref="/data/rec"><label>Recommendations</label><repeat nodeset="/data/rec">
   <input ref="/data/rec/theme"><label>Theme</label></input>
   <upload ref="/data/rec/photo" mediatype="image/*"><label>Photo</label></upload>
  </repeat></group>
 </h:body></h:html>"""


def test_read_xform_fields_in_document_order() -> None:
    parsed = xform.read_xform(FORM)
    assert (parsed.form_id, parsed.version, parsed.title) == ("consult", "3", "Consultation")
    assert parsed.languages == ("English (en)", "French (fr)")
    paths = [(f.path, f.type, f.repeat) for f in parsed.fields]
    assert paths == [
        ("/region", "string", None),
        ("/grp", "structure", None),
        ("/grp/women", "int", None),
        ("/rec", "repeat", "/rec"),
        ("/rec/theme", "string", "/rec"),
        ("/rec/photo", "binary", "/rec"),
        ("/meta", "structure", None),
        ("/meta/instanceID", "string", None),
    ]
    region = parsed.fields[0]
    assert region.kind == "select_one"
    assert region.labels == {"English (en)": "Region", "French (fr)": "Région"}
    assert [(c.name, c.labels["French (fr)"]) for c in region.choices] == [
        ("north", "Nord"),
        ("south", "Sud"),
    ]


def test_submission_values_and_binary_names() -> None:
    fields = xform.read_xform(FORM).fields
    root = xform.parse_xml(
        b'<?xml version=\'1.0\' ?><data id="consult" version="3" '
        b'xmlns:jr="http://openrosa.org/javarosa"><region>north</region><grp><women>12</women>'
        b"</grp><rec><theme>justice</theme><photo>a.jpg</photo></rec><rec><theme /><photo />"
        b"</rec><meta><instanceID>uuid:1</instanceID><instanceName>North 1</instanceName>"
        b"</meta></data>",
        what="submission",
    )
    meta = xform.submission_meta(root)
    assert (meta.form_id, meta.version, meta.instance_id, meta.instance_name) == (
        "consult",
        "3",
        "uuid:1",
        "North 1",
    )
    values = xform.submission_values(root, fields)
    assert values["/region"] == "north"
    assert values["/grp/women"] == "12"
    assert values["/rec"] == [
        {"/rec/theme": "justice", "/rec/photo": "a.jpg"},
        {"/rec/theme": "", "/rec/photo": ""},
    ]
    assert xform.binary_names(values, fields) == ["a.jpg"]


def test_encrypted_envelope_lists_its_files() -> None:
    root = xform.parse_xml(
        b'<data xmlns="http://www.opendatakit.org/xforms/encrypted" id="f" encrypted="yes">'
        b"<base64EncryptedKey>k</base64EncryptedKey>"
        b'<orx:meta xmlns:orx="http://openrosa.org/xforms"><orx:instanceID>uuid:2'
        b"</orx:instanceID></orx:meta><media><file>p.jpg.enc</file></media>"
        b"<encryptedXmlFile>submission.xml.enc</encryptedXmlFile></data>",
        what="submission",
    )
    meta = xform.submission_meta(root)
    assert meta.encrypted
    assert meta.instance_id == "uuid:2"
    assert meta.media_files == ("p.jpg.enc", "submission.xml.enc")


@pytest.mark.parametrize(
    ("xml", "message"),
    [
        (b"<data id='f'><unclosed></data>", "not well-formed"),
        (b"", "not well-formed"),
        (
            b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
            b"<data id='f'>&b;</data>",
            "DOCTYPE",
        ),
        (b"<data><meta><instanceID>uuid:1</instanceID></meta></data>", "no id attribute"),
        (b"<data id='f'><q>1</q></data>", "instanceID"),
    ],
)
def test_bad_submissions_are_refused(xml: bytes, message: str) -> None:
    with pytest.raises(InvalidSubmission, match=message):
        xform.submission_meta(xform.parse_xml(xml, what="submission"))


def test_entity_bomb_is_refused_quickly() -> None:
    import time

    entities = "".join(f'<!ENTITY e{i} "&e{i - 1};&e{i - 1};">' for i in range(1, 30))
    bomb = f'<!DOCTYPE d [<!ENTITY e0 "boom">{entities}]><data id="f">&e29;</data>'.encode()
    started = time.monotonic()
    with pytest.raises(InvalidSubmission):
        xform.parse_xml(bomb, what="submission")
    assert time.monotonic() - started < 2


def test_huge_text_node_is_refused() -> None:
    xml = b"<data id='f'><q>" + b"a" * (50 * 1024 * 1024) + b"</q></data>"
    with pytest.raises(InvalidSubmission):
        xform.parse_xml(xml, what="submission")


def test_not_an_xform() -> None:
    with pytest.raises(InvalidForm, match="XForm"):
        xform.read_xform(b"<html><body/></html>")
