"""The errors of the Idempotency-Key protocol, rendered in the surface's own format."""

from __future__ import annotations

from mailfleet.exceptions import BadRequest, Conflict, Unprocessable

TITLE = "Idempotency error"


class InvalidIdempotencyKey(BadRequest):
    code = "invalid_idempotency_key"
    title = TITLE


class IdempotencyKeyReused(Unprocessable):
    """The key was used before with a different request (method, path, query or body)."""

    code = "idempotency_key_reused"
    title = TITLE


class IdempotencyKeyInProgress(Conflict):
    """The first request with this key has not finished yet."""

    code = "idempotency_key_in_progress"
    title = TITLE
