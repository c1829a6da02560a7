"""The parts of a submission POST (multipart/form-data), read from the request under limits.

This is the busiest parser of the server: every form a phone sends comes through it. Werkzeug's
form parser compiles two regular expressions for each request's boundary, and ODK Collect
(OkHttp) sends a new random boundary every time, which made the parsing a tenth of the CPU of a
whole submission. The `multipart` package finds boundaries with `bytes.find` instead; this
module feeds it the request body and keeps each part in memory, or in a temporary file once it
is large, under the limits the caller sets.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO

import multipart

from collect.errors import InvalidSubmission, TooLarge

MB = 1024 * 1024
# A photo of a few MB stays in memory; a video goes to a temporary file as it arrives.
SPOOL_BYTES = MB
READ_BYTES = 64 * 1024
# ODK Collect sends at most 100 files with the XML in one POST.
MAX_PARTS = 1000


@dataclass
class Part:
    """One part: its field name, declared type and bytes (read once, by `read`)."""

    name: str
    filename: str | None
    content_type: str
    size: int = 0
    # Closed by whoever holds the part once the submission is stored, not here.
    _body: IO[bytes] = field(
        default_factory=lambda: tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
    )

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        self._body.write(chunk)

    def read(self) -> bytes:
        self._body.seek(0)
        return self._body.read()

    def stream(self) -> IO[bytes]:
        """The bytes as a file at their start, for copying in chunks (again after a rewind)."""
        self._body.seek(0)
        return self._body

    def close(self) -> None:
        self._body.close()


def boundary_of(content_type: str) -> str | None:
    """The boundary of a multipart/form-data Content-Type, or None for any other type."""
    kind, options = multipart.parse_options_header(content_type)
    if kind != "multipart/form-data":
        return None
    boundary = options.get("boundary")
    return str(boundary) if boundary else None


def read_parts(
    read: Callable[[int], bytes],
    boundary: str,
    content_length: int | None,
    limits: dict[str, tuple[int, str]],
) -> dict[str, Part]:
    """Parse the body into parts by name (the first part of a name wins, as Werkzeug's did).

    `limits` maps a part name to its largest size and the message of the 413 refusing more; the
    body as a whole is limited by the caller's stream.
    """
    parts: dict[str, Part] = {}
    current: Part | None = None
    limit = 0
    refusal: str | None = None
    parser = multipart.PushMultipartParser(
        boundary,
        content_length=-1 if content_length is None else content_length,
        max_segment_count=MAX_PARTS,
    )
    try:
        for event in parser.parse_blocking(read, READ_BYTES):
            if isinstance(event, multipart.MultipartSegment):
                current = Part(
                    event.name or "",
                    event.filename,
                    event.content_type or "application/octet-stream",
                )
                limit, message = limits.get(current.name, (0, ""))
            elif event is None:
                assert current is not None
                if current.name in parts or refusal is not None:
                    current.close()
                else:
                    parts[current.name] = current
                current = None
            elif refusal is None:
                assert current is not None
                current.write(event)
                if limit and current.size > limit:
                    # Read the rest without keeping it: a phone still sending its body when the
                    # connection closes reports a network error instead of our message.
                    refusal = message
                    _close(parts, current)
                    parts.clear()
    except multipart.MultipartError as e:
        _close(parts, current)
        raise InvalidSubmission(
            "The server could not read what the phone sent as a form with its files "
            f"(multipart/form-data: {e}). Send the form again."
        ) from None
    except BaseException:
        _close(parts, current)
        raise
    if refusal is not None:
        raise TooLarge(refusal)
    return parts


def _close(parts: dict[str, Part], current: Part | None) -> None:
    for part in parts.values():
        part.close()
    if current is not None:
        current.close()
