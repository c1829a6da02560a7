"""Helpers shared by the blueprints: the server's public address, blob download redirects."""

from __future__ import annotations

from flask import Response, current_app, request

from collect.storage import blobs
from collect.storage.models import Blob


def base_url() -> str:
    """The server's public origin as a device sees it (honours the proxy when trusted)."""
    configured = str(current_app.config.get("BASE_URL") or "")
    if configured:
        return configured.rstrip("/")
    return request.host_url.rstrip("/")


def blob_redirect(blob: Blob, filename: str) -> Response | None:
    """A redirect to a short-lived S3 URL for the bytes, when the store is set up to give one."""
    url = blobs.redirect_url(blob, filename)
    if url is None:
        return None
    # No caching: the URL is a credential, if a brief one.
    return Response(status=302, headers={"Location": url, "Cache-Control": "no-store"})
