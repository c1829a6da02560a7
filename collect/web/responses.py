"""Helpers shared by the blueprints: error bodies, absolute URLs, streaming."""

from __future__ import annotations

from typing import Any

from flask import current_app, request

from collect.errors import CollectError


def error_json(e: CollectError) -> tuple[dict[str, Any], int]:
    """Central's error shape: a numeric code and a sentence, plus details when there are some."""
    body: dict[str, Any] = {"code": e.code, "message": e.message}
    if e.details:
        body["details"] = e.details
    return body, e.status


def base_url() -> str:
    """The server's public origin as a device sees it (honours the proxy when trusted)."""
    configured = str(current_app.config.get("BASE_URL") or "")
    if configured:
        return configured.rstrip("/")
    return request.host_url.rstrip("/")
