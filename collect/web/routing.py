"""How URLs are read: ids that hold a `/` (sent as `%2F`, as in Central), and numeric ids.

Route on the path as the client sent it. WSGI servers decode PATH_INFO, so `/forms/a%2Fb/draft`
reaches Flask as `/forms/a/b/draft` and no route matches: a form whose id holds a slash (pyodk's
own tests make `'=+/*-451%/%`) could be created but never reached again. Central keeps `%2F`
inside its segment. Here a middleware
rebuilds PATH_INFO from the raw request target (gunicorn's RAW_URI, Werkzeug's REQUEST_URI),
writing each encoded slash as NUL, a character no id can hold (XML forbids it and every id here
comes from XML or is ours); the default URL converter turns NUL back into `/` for the view, and
encodes `/` as `%2F` when building URLs.

Numeric ids (projects, actors) are database integers: one too large for the column would reach
the database and fail there. The `int` converter's pattern admits only 0 to 2**31 - 1, so a
larger number matches no route, or the catch-all that answers ODK Collect (a plain 404 either
way); a converter that refused it in `to_python` would stop the router before the catch-all.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, unquote_to_bytes, urlsplit

from flask import Flask
from werkzeug.routing import IntegerConverter, UnicodeConverter

ENCODED_SLASH = "\x00"
# Werkzeug's segment-safe characters, less "/" (werkzeug.routing.converters.BaseConverter).
_SAFE = "!$&'()*+,:;=@"


class SegmentConverter(UnicodeConverter):
    """The default converter: one path segment, in which a slash travels as %2F."""

    def to_python(self, value: str) -> str:
        return value.replace(ENCODED_SLASH, "/")

    def to_url(self, value: Any) -> str:
        return quote(str(value), safe=_SAFE)


class IdConverter(IntegerConverter):
    """The `int` converter: a whole number that fits a 32-bit integer column, as ids do."""

    # 0 to 2147483647: up to nine digits, or ten digits no greater than 2147483647.
    regex = (
        r"(?:\d{1,9}|1\d{9}|20\d{8}|21[0-3]\d{7}|214[0-6]\d{6}|2147[0-3]\d{5}|21474[0-7]\d{4}"
        r"|214748[0-2]\d{3}|2147483[0-5]\d{2}|21474836[0-3]\d|214748364[0-7])"
    )


class RawPathRouting:
    """WSGI middleware: keep encoded slashes inside their segment (see the module docstring)."""

    def __init__(self, wsgi_app: Any) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = segment_path(environ)
        if path is not None:
            environ["PATH_INFO"] = path
        return self.wsgi_app(environ, start_response)  # type: ignore[no-any-return]


def segment_path(environ: dict[str, Any]) -> str | None:
    """PATH_INFO with each %2F of the raw target as ENCODED_SLASH, or None to leave it alone.

    It is used only when it decodes to exactly what the server put in SCRIPT_NAME + PATH_INFO,
    so a proxy that rewrote the path, or a server that sent no raw target, changes nothing.
    """
    raw = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or "")
    target = urlsplit(raw).path if raw.startswith(("http://", "https://")) else raw
    target = target.split("?", 1)[0]
    if not target.startswith("/") or "%2f" not in target.lower():
        return None
    # WSGI strings carry bytes as latin-1 characters (PEP 3333).
    decoded = b"/".join(
        unquote_to_bytes(segment).replace(b"/", ENCODED_SLASH.encode())
        for segment in target.split("/")
    ).decode("latin-1")
    script = str(environ.get("SCRIPT_NAME", ""))
    if decoded.replace(ENCODED_SLASH, "/") != script + str(environ.get("PATH_INFO", "")):
        return None
    return decoded[len(script) :] if decoded.startswith(script) else None


def init_app(app: Flask) -> None:
    """Install the converters (before any route is added) and the middleware."""
    app.url_map.converters["default"] = SegmentConverter
    app.url_map.converters["string"] = SegmentConverter
    app.url_map.converters["int"] = IdConverter
    app.wsgi_app = RawPathRouting(app.wsgi_app)  # type: ignore[method-assign]
