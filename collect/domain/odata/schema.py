"""A form's questions as OData tables (`Schema`), the service document and $metadata (pure)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from collect.domain.forms.disclosure import Disclosure
from collect.domain.forms.xform import Field

SUBMISSIONS = "Submissions"
USER_NAMESPACE = "org.opendatakit.user"
SYSTEM_NAMESPACE = "org.opendatakit.submission"
EDMX = "http://docs.oasis-open.org/odata/ns/edmx"
EDM = "http://docs.oasis-open.org/odata/ns/edm"
JSON_TYPE = "application/json; odata.metadata=minimal"
XML_TYPE = "application/xml"

# The OData types Central gives each XForm bind type; everything else is Edm.String.
EDM_TYPES = {
    "int": "Edm.Int64",
    "integer": "Edm.Int64",
    "decimal": "Edm.Decimal",
    "boolean": "Edm.Boolean",
    "date": "Edm.Date",
    "dateTime": "Edm.DateTimeOffset",
    "geopoint": "Edm.GeographyPoint",
    "geotrace": "Edm.GeographyLineString",
    "geoshape": "Edm.GeographyPolygon",
}
SYSTEM_PROPERTIES = (
    ("submissionDate", "Edm.DateTimeOffset"),
    ("updatedAt", "Edm.DateTimeOffset"),
    ("submitterId", "Edm.String"),
    ("submitterName", "Edm.String"),
    ("attachmentsPresent", "Edm.Int64"),
    ("attachmentsExpected", "Edm.Int64"),
    ("status", f"{SYSTEM_NAMESPACE}.Status"),
    ("reviewState", f"{SYSTEM_NAMESPACE}.ReviewState"),
    ("deviceId", "Edm.String"),
    ("edits", "Edm.Int64"),
    ("formVersion", "Edm.String"),
)
SYSTEM_NAMES = frozenset(name for name, _ in SYSTEM_PROPERTIES)
# Schema: the form's questions as OData tables ---------------------------------------------------


@dataclass(eq=False)
class Node:
    """A question, group or repeat of the form (or the form's root) as the feed names it."""

    name: str  # OData identifier: the XML name with what OData forbids replaced by "_"
    path: str  # XPath from the instance root, "" for the root
    type: str  # bind type, "structure", "repeat", or "root"
    container: Node | None = None  # the root or repeat whose rows hold this node
    parent: Node | None = None  # the group, repeat or root it sits in
    children: list[Node] = field(default_factory=list)
    odata_path: str = ""  # names from the root joined by "/", as $select spells them
    table: str = ""  # root and repeats: "Submissions", "Submissions.group.repeat"
    parent_key: str = ""  # repeats: the property naming the parent row's __id
    step: str = ""  # repeats: path from the container, for keys ("group/repeat")
    link_step: str = ""  # repeats: the same in OData names, for navigation links
    chain: tuple[Node, ...] = ()  # repeats: the repeats from the outermost down to this one

    @property
    def is_table(self) -> bool:
        return self.type in ("root", "repeat")


@dataclass
class Schema:
    """Every table of a form's feed, root first, in document order."""

    xml_form_id: str
    root: Node
    tables: dict[str, Node]
    by_odata_path: dict[str, Node]
    groups: list[Node]

    @property
    def namespace(self) -> str:
        return f"{USER_NAMESPACE}.{identifier(self.xml_form_id)}"


def identifier(name: str) -> str:
    """An XML name as an OData identifier: a letter or _ first, then letters, digits and _."""
    prefixed = name if re.match(r"[A-Za-z_]", name) else f"_{name}"
    return re.sub(r"[^A-Za-z0-9_]+", "_", prefixed)


def build(xml_form_id: str, fields: Sequence[Field], shown: Disclosure) -> Schema:
    """Arrange a version's fields (depth-first) as the feed's tables, leaving out what `shown`
    hides: those are then unknown to $metadata, $select and the rows alike."""
    root = Node(SUBMISSIONS, "", "root", table=SUBMISSIONS)
    nodes = {"": root}
    built = Schema(xml_form_id, root, {SUBMISSIONS: root}, {}, [])
    for f in fields:
        parent = nodes.get(f.path.rsplit("/", 1)[0])
        if parent is None or shown.hides(f.path):
            continue
        container = parent if parent.is_table else parent.container
        assert container is not None
        node = Node(identifier(f.name), f.path, f.type, container, parent)
        node.odata_path = f"{parent.odata_path}/{node.name}".lstrip("/")
        parent.children.append(node)
        nodes[f.path] = node
        built.by_odata_path[node.odata_path] = node
        if f.type == "structure":
            built.groups.append(node)
        elif f.type == "repeat":
            node.table = ".".join([SUBMISSIONS, *node.odata_path.split("/")])
            outer = (
                [SUBMISSIONS, *container.odata_path.split("/")] if container.path else [SUBMISSIONS]
            )
            node.parent_key = f"__{'-'.join(outer)}-id"
            node.step = f.path[len(container.path) + 1 :]
            node.link_step = node.odata_path[len(container.odata_path) :].lstrip("/")
            node.chain = (*container.chain, node)
            built.tables[node.table] = node
    return built


def service_document(form_schema: Schema, service_root: str) -> dict[str, Any]:
    """The OData service document: one entity set per table."""
    return {
        "@odata.context": f"{service_root}/$metadata",
        "value": [{"name": name, "kind": "EntitySet", "url": name} for name in form_schema.tables],
    }


def metadata_document(form_schema: Schema) -> bytes:
    """The EDMX (CSDL 4.0) document: Central's submission metadata types, then the form's."""
    namespace = form_schema.namespace
    edmx = etree.Element(f"{{{EDMX}}}Edmx", nsmap={"edmx": EDMX}, Version="4.0")
    services = etree.SubElement(edmx, f"{{{EDMX}}}DataServices")

    system = _element(services, "Schema", nsmap={None: EDM}, Namespace=SYSTEM_NAMESPACE)
    metadata = _element(system, "ComplexType", Name="metadata")
    for name, type_ in SYSTEM_PROPERTIES:
        _element(metadata, "Property", Name=name, Type=type_)
    for enum, members in (
        ("Status", ("notDecrypted", "missingEncryptedFormData")),
        ("ReviewState", ("hasIssues", "edited", "rejected", "approved")),
    ):
        enum_type = _element(system, "EnumType", Name=enum)
        for member in members:
            _element(enum_type, "Member", Name=member)

    user = _element(services, "Schema", nsmap={None: EDM}, Namespace=namespace)
    for node in form_schema.tables.values():
        entity = _element(user, "EntityType", Name=node.table)
        _element(_element(entity, "Key"), "PropertyRef", Name="__id")
        _element(entity, "Property", Name="__id", Type="Edm.String")
        if node.type == "root":
            _element(entity, "Property", Name="__system", Type=f"{SYSTEM_NAMESPACE}.metadata")
        else:
            _element(entity, "Property", Name=node.parent_key, Type="Edm.String")
        _properties(entity, node, namespace)
    for group in form_schema.groups:
        complex_type = _element(user, "ComplexType", Name=group.odata_path.replace("/", "."))
        _properties(complex_type, group, namespace)

    container = _element(user, "EntityContainer", Name=identifier(form_schema.xml_form_id))
    for node in form_schema.tables.values():
        entity_set = _element(
            container, "EntitySet", Name=node.table, EntityType=f"{namespace}.{node.table}"
        )
        if node.type == "root":
            _capabilities(entity_set, node)
    return bytes(etree.tostring(edmx, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _element(parent: etree._Element, tag: str, **attributes: Any) -> etree._Element:
    nsmap = attributes.pop("nsmap", None)
    return etree.SubElement(parent, f"{{{EDM}}}{tag}", attributes, nsmap=nsmap)


def _properties(parent: etree._Element, node: Node, namespace: str) -> None:
    for child in node.children:
        if child.type == "repeat":
            collection = f"Collection({namespace}.{child.table})"
            _element(parent, "NavigationProperty", Name=child.name, Type=collection)
        elif child.type == "structure":
            group_type = f"{namespace}.{child.odata_path.replace('/', '.')}"
            _element(parent, "Property", Name=child.name, Type=group_type)
        else:
            _element(
                parent, "Property", Name=child.name, Type=EDM_TYPES.get(child.type, "Edm.String")
            )


def _capabilities(entity_set: etree._Element, root: Node) -> None:
    """Tell BI tools what the feed can do, so they fold only what the server understands."""
    capabilities = "Org.OData.Capabilities.V1"

    def annotate(term: str, **value: str) -> etree._Element:
        return _element(entity_set, "Annotation", Term=f"{capabilities}.{term}", **value)

    def record(term: str, **flags: bool) -> etree._Element:
        rec = _element(annotate(term), "Record")
        for name, flag in flags.items():
            _element(rec, "PropertyValue", Property=name, Bool=str(flag).lower())
        return rec

    annotate("ConformanceLevel", EnumMember=f"{capabilities}.ConformanceLevelType/Minimal")
    annotate("BatchSupported", Bool="false")
    record("CountRestrictions", Countable=True)
    filters = record("FilterRestrictions", Filterable=True, RequiresFilter=False)
    not_filterable = _element(
        _element(filters, "PropertyValue", Property="NonFilterableProperties"), "Collection"
    )
    for child in root.children:
        _element(not_filterable, "PropertyPath").text = child.name
    record("SortRestrictions", Sortable=False)
    record("ExpandRestrictions", Expandable=False)
