"""ODK Central's OData feed of a form's submissions, read by Excel, Power BI, pyodk and ruODK.

Pure: `schema` (the form's questions as OData tables, the service document and $metadata),
`query` (the query options), `rows` (stored values shaped as Central's rows). `service` checks
access, reads the database through `submissions.records` and streams the feed.
"""

from collect.domain.odata.query import parse_query
from collect.domain.odata.rows import value
from collect.domain.odata.schema import JSON_TYPE, XML_TYPE, identifier, metadata_document
from collect.domain.odata.service import Urls, feed, metadata, service

__all__ = [
    "JSON_TYPE",
    "XML_TYPE",
    "Urls",
    "feed",
    "identifier",
    "metadata",
    "metadata_document",
    "parse_query",
    "service",
    "value",
]
