"""Zapmail's error envelope and statuses (pure functions of the surface-neutral error).

Every error under /zapmail answers the document's envelope, `{"status": <http status>,
"message": "<why>", "data": null}`, plus two Mailfleet additions a Zapmail client ignores:
`code` (Mailfleet's stable code, listed per operation under `x-error-codes`) and `field` (the
field at fault, or null). A rate-limited call answers exactly the documented
`{"status": 429, "message": "Too many requests"}`.

Statuses follow the document: 422 for an invalid payload (its "Invalid Payload"), 400 for a
refusal by a rule (its "No slots remaining" and "24 Hour Rule": the native API's 409 rule
refusals and 403 `quota_exceeded`), 401 without a valid key, 403 for a role that may not, 404
for what does not exist or is another account's, 429 rate limited. A retry while the first
request with its Idempotency-Key still runs (a Mailfleet addition) stays 409.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fastapi.responses import Response

from mailfleet.exception_handlers import ErrorInfo
from mailfleet.exceptions import ERROR_CODES

JSON = "application/json"
RATE_LIMITED_BODY = {"status": 429, "message": "Too many requests"}
RATE_LIMITED_SCHEMA = {
    "type": "object",
    "required": ["status", "message"],
    "properties": {
        "status": {"type": "integer", "examples": [429]},
        "message": {"type": "string", "examples": ["Too many requests"]},
    },
}
# Codes whose Zapmail status differs from the native one.
STATUS_OVERRIDES = {
    "validation_error": 422,
    "malformed_json": 422,
    "quota_exceeded": 400,
    "insufficient_funds": 400,
    # Rule R11: an export or update that must name its account is refused like a rule.
    "export_account_required": 400,
}
# Conflicts that are not rule refusals: they keep their 409.
KEPT_CONFLICTS = frozenset({"idempotency_key_in_progress"})


def status_of(code: str, native: int) -> int:
    """The status Zapmail answers `code` with, given the one the native API would."""
    if code in STATUS_OVERRIDES:
        return STATUS_OVERRIDES[code]
    if native == 409 and code not in KEPT_CONFLICTS:
        return 400
    return native


def envelope(status: int, message: str, code: str, field: str | None) -> dict[str, Any]:
    return {"status": status, "message": message, "data": None, "code": code, "field": field}


def render_error(error: ErrorInfo, instance: str) -> Response:
    """The surface's ErrorRenderer: the envelope at Zapmail's status for the code."""
    status = status_of(error.code, error.status)
    if error.code == "rate_limited":
        body: dict[str, Any] = RATE_LIMITED_BODY
    else:
        body = envelope(status, error.detail, error.code, error.field)
    return Response(
        json.dumps(body), status_code=status, media_type=JSON, headers=dict(error.headers)
    )


def document_error(response: dict[str, Any], status: int, codes: Sequence[str]) -> None:
    """A status documented with the `Error` schema and the codes it may carry."""
    lines = "\n".join(f"- `{code}`: {ERROR_CODES[code].meaning}" for code in codes)
    response["description"] = f"The `code` is one of:\n\n{lines}"
    if set(codes) == {"rate_limited"}:
        # render_error answers the documented body, which has no `code` (nor `data`).
        response.setdefault("content", {})[JSON] = {"schema": RATE_LIMITED_SCHEMA}
        return
    response.setdefault("content", {})[JSON] = {"schema": {"$ref": "#/components/schemas/Error"}}
