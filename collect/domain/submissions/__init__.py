"""Submissions: received exactly once, read, reviewed, and read in bulk for exports and OData.

`devices` is what a phone may see (its identity, form list, forms, media); `receive` is the
OpenRosa decision (new, retry, split upload, edit, conflict) and the API's writes;
`statements` holds its hand-written SQL; `read` the JSON API's reads and who may see what;
`review` review states and comments; `records` the cursor over current versions (with
`$filter`) that exports and the OData feed share. Call sites read `submissions.receive(...)`.
"""

from collect.domain.submissions.devices import (
    Device,
    Offered,
    device,
    media,
    media_files,
    offered,
    offered_definition,
)
from collect.domain.submissions.read import (
    Summary,
    Version,
    attachment,
    attachments,
    get,
    listed,
    raw,
    versions,
)
from collect.domain.submissions.receive import File, Received, add_file, create, edit, receive
from collect.domain.submissions.review import REVIEW_STATES, add_comment, comments, review

__all__ = [
    "REVIEW_STATES",
    "Device",
    "File",
    "Offered",
    "Received",
    "Summary",
    "Version",
    "add_comment",
    "add_file",
    "attachment",
    "attachments",
    "comments",
    "create",
    "device",
    "edit",
    "get",
    "listed",
    "media",
    "media_files",
    "offered",
    "offered_definition",
    "raw",
    "receive",
    "review",
    "versions",
]
