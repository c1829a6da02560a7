"""Forms: XLSForms and XForms uploaded, checked, versioned, published and read back.

`xform` (the XForm's questions, and submission XML) and `xlsform` (pyxform's conversion and
JavaRosa's check) are pure: bytes in, values out, no database. `fields` is the one mapping
between stored questions and `xform.Field`. `service` is what the API, the pages and the other
areas call, re-exported here so call sites read `forms.create(...)`.
"""

from collect.domain.forms.service import (
    STATES,
    Upload,
    attach,
    create,
    creator,
    definition,
    find,
    get,
    listed,
    new_draft,
    publish,
    published,
    review_states,
    safe_name,
    set_state,
    submission_stats,
    version,
    versions,
    workbook_blob,
)

__all__ = [
    "STATES",
    "Upload",
    "attach",
    "create",
    "creator",
    "definition",
    "find",
    "get",
    "listed",
    "new_draft",
    "publish",
    "published",
    "review_states",
    "safe_name",
    "set_state",
    "submission_stats",
    "version",
    "versions",
    "workbook_blob",
]
