"""gunicorn's access log for `collect serve`: the combined log format, without tokens.

An app user's token is its password and ODK Collect puts it in every URL it requests
(`/v1/key/{token}/...`), so a log line with the raw URL would hand the phone's access to anyone
who can read the log. The same goes for a web user's session token in `DELETE
/v1/sessions/{token}`, which may name a live session of someone else (an admin ending it).
This logger writes `[token]` in their place. It also formats the line
directly, where gunicorn's own builds a dictionary of every request and response header first:
the log line is written for every submission a phone sends.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

from gunicorn import glogging

_TOKEN = re.compile(r"^/v1/key/[^/?]*")
# Any session token, but not the literal `current` of DELETE /v1/sessions/current.
_SESSION = re.compile(r"^/v1/sessions/(?!current(?:[/?]|$))[^/?]+")
_FORMAT = '%s - - [%s] "%s %s %s" %s %s "%s" "%s" %dms'


def redacted(uri: str) -> str:
    """The request URI with a device or session token, if any, replaced by `[token]`."""
    if uri.startswith("/v1/key/"):
        return _TOKEN.sub("/v1/key/[token]", uri, count=1)
    if uri.startswith("/v1/sessions/"):
        return _SESSION.sub("/v1/sessions/[token]", uri, count=1)
    return uri


class AccessLogger(glogging.Logger):  # type: ignore[misc]
    """Selected by `collect serve` with gunicorn's `--logger-class`."""

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> None:
        if not self.access_log_enabled:
            return
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        sent = getattr(resp, "sent", None)
        try:
            self.access_log.info(
                _FORMAT,
                environ.get("REMOTE_ADDR", "-"),
                time.strftime("%d/%b/%Y:%H:%M:%S %z"),
                environ["REQUEST_METHOD"],
                redacted(environ.get("RAW_URI") or environ.get("PATH_INFO", "")),
                environ["SERVER_PROTOCOL"],
                status,
                "-" if sent is None else sent,
                environ.get("HTTP_REFERER", "-"),
                environ.get("HTTP_USER_AGENT", "-"),
                request_time.total_seconds() * 1000,
            )
        except Exception:
            self.exception("Could not write the access log line")
