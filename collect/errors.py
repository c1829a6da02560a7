"""Errors a client can act on: each carries its HTTP status and a Central-style numeric code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One thing to fix in an uploaded form, located as the author sees the workbook."""

    message: str
    sheet: str | None = None
    row: int | None = None
    column: str | None = None

    def __str__(self) -> str:
        where = ", ".join(
            part
            for part in (
                f"sheet '{self.sheet}'" if self.sheet else "",
                f"row {self.row}" if self.row is not None else "",
                f"column '{self.column}'" if self.column else "",
            )
            if part
        )
        return f"{where}: {self.message}" if where else self.message

    def as_dict(self) -> dict[str, Any]:
        return {
            "sheet": self.sheet,
            "row": self.row,
            "column": self.column,
            "message": self.message,
        }


class CollectError(Exception):
    """An error the client can act on; `status` is its HTTP status, `code` Central's number."""

    status = 400
    code = 400.0

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class BadRequest(CollectError):
    """The request is malformed: a missing field, a value of the wrong type."""

    status = 400
    code = 400.1


class InvalidForm(CollectError):
    """An uploaded XLSForm or XForm cannot be published; `problems` says what to fix."""

    status = 400
    code = 400.15

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        self.problems = problems or []
        summary = message
        if self.problems:
            summary = message + " " + " ".join(f"{p}." for p in self.problems)
        super().__init__(summary, details={"problems": [p.as_dict() for p in self.problems]})


class InvalidSubmission(CollectError):
    """A submission cannot be accepted as sent (malformed XML, no instanceID, ...)."""

    status = 400
    code = 400.2


class Unauthorized(CollectError):
    """No valid credentials were given."""

    status = 401
    code = 401.2


class Forbidden(CollectError):
    """The credentials are valid but do not allow this action."""

    status = 403
    code = 403.1


class NotFound(CollectError):
    """The thing asked for does not exist (or is not visible to the caller)."""

    status = 404
    code = 404.1


class Conflict(CollectError):
    """The request contradicts what is stored: a duplicate id, version or a different resend."""

    status = 409
    code = 409.1


class AlreadyExists(Conflict):
    """Something with the same identity is already stored (Central's uniquenessViolation)."""

    code = 409.3


class VersionTaken(Conflict):
    """A published version of the form already has that version string."""

    code = 409.6


class TooManyRequests(CollectError):
    """Refused for a while, e.g. sign-in after repeated failures for one email."""

    status = 429
    code = 429.1


class TooLarge(CollectError):
    """The body or one of its parts is larger than the server accepts."""

    status = 413
    code = 413.1


class NotSupported(CollectError):
    """A valid request for something this server does not do (an OData option, for example)."""

    status = 501
    code = 501.4
