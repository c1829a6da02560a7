"""Helpers shared by the blueprints: the server's public address."""

from __future__ import annotations

from flask import current_app, request


def base_url() -> str:
    """The server's public origin as a device sees it (honours the proxy when trusted)."""
    configured = str(current_app.config.get("BASE_URL") or "")
    if configured:
        return configured.rstrip("/")
    return request.host_url.rstrip("/")
