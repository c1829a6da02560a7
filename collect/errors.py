"""Every error a client can act on, in one catalogue: its HTTP status and Central-style code.

Domain code raises these; each protocol renders them in one place (`web/errors.py` for the
JSON API, `web/openrosa.py` for ODK Collect, `web/pages` for browsers). Codes follow ODK
Central's where it has one (`404.1`, `409.2` ...), so clients that branch on them keep working.
No Flask here.
"""

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

    def __init__(
        self,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        # Seconds after which the same request may succeed: sent as the Retry-After header.
        self.retry_after = retry_after


class BadRequest(CollectError):
    """The request is malformed: a missing field, a value of the wrong type."""

    status = 400
    code = 400.1


class InvalidForm(CollectError):
    """An uploaded XLSForm or XForm cannot be published; `problems` says what to fix.

    `headline` is the sentence without the problems (pages list those themselves);
    `warnings_only` says the upload would pass with `?ignoreWarnings=true`.
    """

    status = 400
    code = 400.15

    def __init__(
        self, message: str, problems: list[Problem] | None = None, *, warnings_only: bool = False
    ) -> None:
        self.problems = problems or []
        self.headline = message
        self.warnings_only = warnings_only
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


class CsrfRefused(Forbidden):
    """A POST without the CSRF token of the signed-in session: maybe a forged request."""

    code = 403.2


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


class FormClosed(Conflict):
    """The form no longer accepts submissions, or is no longer offered for download."""

    code = 409.2


class StaleEdit(Conflict):
    """An edit of a version that is no longer the current one."""

    code = 409.9


class Deleted(Conflict):
    """The submission was deleted on the server; sending it again does not bring it back."""

    code = 409.18


class InvalidBody(CollectError):
    """A JSON body that does not fit the endpoint's schema (marshmallow's ValidationError)."""

    status = 400
    code = 400.4


class TooManyRequests(CollectError):
    """Refused for a while (sign-in after repeated failures); `retry_after` says how long."""

    status = 429
    code = 429.1


class TooLarge(CollectError):
    """The body or one of its parts is larger than the server accepts."""

    status = 413
    code = 413.1


class ServerError(CollectError):
    """Something failed on the server; the details went to the log, not to the client."""

    status = 500
    code = 500.1


class NotSupported(CollectError):
    """A valid request for something this server does not do (an OData option, for example)."""

    status = 501
    code = 501.4


class DecryptionFailed(CollectError):
    """Encrypted data cannot be decrypted; the subclass says why, and its message what to do."""

    status = 400
    code = 400.12  # Central's "undecryptable"
    reason = "undecryptable"


class WrongPassphrase(DecryptionFailed):
    """The passphrase does not open the project's managed key."""

    reason = "passphrase"


class WrongKey(DecryptionFailed):
    """The private key given is not the one the data was encrypted for."""

    reason = "key"


class EnvelopeCorrupt(DecryptionFailed):
    """An encrypted submission's manifest or one of its files is damaged."""

    reason = "corrupt"


class EnvelopeIncomplete(DecryptionFailed):
    """An encrypted submission lacks one of the files its manifest lists."""

    reason = "missing"


class SignatureMismatch(DecryptionFailed):
    """The decrypted files do not match the signature the phone made when it encrypted them."""

    reason = "signature"


class Busy(CollectError):
    """The server is doing as much of this work as it can at once (checking passwords); retry."""

    status = 503
    code = 503.2


class BlobMissing(NotFound):
    """A stored file's row exists but its bytes are not in the blob store (lost or not copied)."""

    code = 404.9


class Unavailable(CollectError):
    """The server cannot store or read right now (the blob store is unreachable); try later."""

    status = 503
    code = 503.1
