"""The OData feed under /v1 (Central's `.svc` URLs), read by Excel, Power BI, pyodk and ruODK.

Thin views over `domain.odata`: they read who asks and the URL, and stream what the domain
makes. Excel and Power BI sign in with HTTP Basic (email and password), which these GET
routes accept besides bearer tokens; see `auth.reading_actor`.
"""

from __future__ import annotations

from urllib.parse import quote

import orjson
from flask import Blueprint, Response, request, stream_with_context

from collect.domain import odata
from collect.domain.people import access
from collect.storage.models import Actor
from collect.web.auth import reading_actor
from collect.web.responses import base_url

bp = Blueprint("odata", __name__)
SVC = "/projects/<int:pid>/forms/<xml_form_id>.svc"


@bp.after_request
def odata_headers(response: Response) -> Response:
    """Say the protocol version, and ask BI tools for a password when none was sent."""
    response.headers["OData-Version"] = "4.0"
    if response.status_code == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="collect", charset="UTF-8"'
    return response


@bp.get(SVC)
@bp.get(f"{SVC}/")
def service(pid: int, xml_form_id: str) -> Response:
    """The service document: the form's tables (Submissions and one per repeat)."""
    document = odata.service(_actor(), pid, xml_form_id, _urls(pid, xml_form_id))
    return Response(orjson.dumps(document), content_type=odata.JSON_TYPE)


@bp.get(f"{SVC}/$metadata")
def metadata(pid: int, xml_form_id: str) -> Response:
    """The EDMX document describing every table and property of the form."""
    return Response(odata.metadata(_actor(), pid, xml_form_id), content_type=odata.XML_TYPE)


@bp.get(f"{SVC}/<path:resource>")
def rows(pid: int, xml_form_id: str, resource: str) -> Response:
    """A table's rows, or one submission's, streamed as they are read."""
    urls = _urls(pid, xml_form_id)
    content_type, chunks = odata.feed(_actor(), pid, xml_form_id, resource, request.args, urls)
    return Response(stream_with_context(chunks), content_type=content_type)


def _actor() -> Actor:
    actor = reading_actor()
    access.require_user(actor)
    return actor


def _urls(pid: int, xml_form_id: str) -> odata.Urls:
    origin = base_url() + request.script_root
    root = f"{origin}/v1/projects/{pid}/forms/{quote(xml_form_id, safe='')}.svc"
    query = request.query_string.decode("latin-1")
    # An id's own slash travels inside its segment as NUL (web/routing.py), and out as %2F.
    path = quote(request.path, safe="/$'():,@").replace("%00", "%2F")
    return odata.Urls(root, f"{origin}{path}" + (f"?{query}" if query else ""))
