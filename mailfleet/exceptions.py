"""One error base class: each error knows its HTTP status and a stable machine code.

The native API renders them as RFC 9457 problem details (`exception_handlers`); compat surfaces
render the same errors in their own envelopes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class FieldError:
    field: str
    code: str
    detail: str


class MailfleetError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    title: ClassVar[str] = "Internal server error"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        field: str | None = None,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code  # type: ignore[misc]
        self.field = field
        self.errors = errors or []
        self.headers = headers or {}


class BadRequest(MailfleetError):
    status = 400
    code = "bad_request"
    title = "Bad request"


class Unauthorized(MailfleetError):
    status = 401
    code = "unauthorized"
    title = "Unauthorized"

    def __init__(self, detail: str = "A valid API key is required.", **kwargs: object) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"}, **kwargs)  # type: ignore[arg-type]


class Forbidden(MailfleetError):
    status = 403
    code = "forbidden"
    title = "Forbidden"


class NotFound(MailfleetError):
    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(MailfleetError):
    """The request is well-formed but conflicts with the current state of a resource."""

    status = 409
    code = "conflict"
    title = "Conflict"


class Unprocessable(MailfleetError):
    """The request is well-formed JSON but a field's value is not acceptable."""

    status = 422
    code = "validation_error"
    title = "Validation error"


class RateLimited(MailfleetError):
    status = 429
    code = "rate_limited"
    title = "Too many requests"


class ServiceUnavailable(MailfleetError):
    status = 503
    code = "unavailable"
    title = "Service unavailable"


class BadGateway(MailfleetError):
    """A provider Mailfleet depends on (DNS, mailbox) refused or failed the change."""

    status = 502
    code = "provider_error"
    title = "Provider error"


class RequestTooLarge(MailfleetError):
    """The request body is over the route's size limit (see kit.bodylimit)."""

    status = 413
    code = "request_too_large"
    title = "Request too large"
