"""The token that opens a form's draft to test devices: Central's `draftToken`, derived, not stored.

Central keeps a random token per draft. Here it is an HMAC, under the server's secret key, of
the draft version's id and content: it changes with every new draft, stops opening anything
once the draft is published, and needs no column. The draft's test routes
(`/v1/test/{token}/...`) check a token they are given with `matches`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from collect.storage.models import FormDef


def token(secret: str, draft: FormDef) -> str:
    """The draft's token: 64 characters of Central's alphabet (letters, digits, `!`, `$`)."""
    message = f"draft-token:{draft.form_id}:{draft.id}:{draft.sha256}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha384).digest()
    # 48 bytes make 64 base64 characters; Central writes `!` and `$` for `/` and `+`.
    return base64.b64encode(digest).decode("ascii").replace("/", "!").replace("+", "$")


def matches(secret: str, definition: FormDef, candidate: str) -> bool:
    """Whether `candidate` opens `definition`: it must still be a draft, and the token its own."""
    if definition.published_at is not None:
        return False
    return hmac.compare_digest(token(secret, definition), candidate)
