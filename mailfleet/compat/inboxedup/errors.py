"""InboxedUp's error envelope and statuses (pure functions of the surface-neutral error).

Every error under /inboxedup answers `{"success": false, "error": {"code", "message",
"field"}}`. `code` is Mailfleet's stable code (the same one the native API gives, listed per
operation under `x-error-codes`); the status follows InboxedUp's documented meanings: 400 the
request is malformed (a missing or wrongly typed field), 401 no or a bad token, 403 not allowed
(role) or no allocation left (`quota_exceeded`), 404 unknown or another account's, 422 a rule
refused it (domain not ACTIVE, per-domain limit, a bad or taken username: the native API's 409
rule refusals), 429 rate limited. A retry while the first request with its Idempotency-Key
still runs (a Mailfleet addition) stays 409.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fastapi.responses import Response

from mailfleet.exception_handlers import ErrorInfo
from mailfleet.exceptions import ERROR_CODES

JSON = "application/json"
# Codes whose InboxedUp status differs from the native one.
STATUS_OVERRIDES = {
    "validation_error": 400,
    "quota_exceeded": 403,
}
# Conflicts that are not rule refusals: they keep their 409.
KEPT_CONFLICTS = frozenset({"idempotency_key_in_progress"})


def status_of(code: str, native: int) -> int:
    """The status InboxedUp answers `code` with, given the one the native API would."""
    if code in STATUS_OVERRIDES:
        return STATUS_OVERRIDES[code]
    if native == 409 and code not in KEPT_CONFLICTS:
        return 422
    return native


def envelope(code: str, message: str, field: str | None) -> dict[str, Any]:
    return {"success": False, "error": {"code": code, "message": message, "field": field}}


def render_error(error: ErrorInfo, instance: str) -> Response:
    """The surface's ErrorRenderer: the envelope at InboxedUp's status for the code."""
    return Response(
        json.dumps(envelope(error.code, error.detail, error.field)),
        status_code=status_of(error.code, error.status),
        media_type=JSON,
        headers=dict(error.headers),
    )


def statuses_of(code: str) -> tuple[int, ...]:
    """Every status the surface can answer `code` with."""
    return tuple(sorted({status_of(code, native) for native in ERROR_CODES[code].statuses}))


def document_error(response: dict[str, Any], status: int, codes: Sequence[str]) -> None:
    """A status documented with the `Error` schema and the codes it may carry."""
    lines = "\n".join(f"- `{code}`: {ERROR_CODES[code].meaning}" for code in codes)
    response["description"] = f"The `error.code` is one of:\n\n{lines}"
    response.setdefault("content", {})[JSON] = {"schema": {"$ref": "#/components/schemas/Error"}}
