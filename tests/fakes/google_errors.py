"""Google's error answers, for the fake's modules (tests/fakes/google.py, google_users.py)."""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]

STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    503: "UNAVAILABLE",
}


class Answer(Exception):
    """An error answer: its HTTP status and JSON body."""

    def __init__(self, status: int, body: Json) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body


def api_error(status: int, message: str, reason: str) -> Answer:
    """Google's API error envelope."""
    error = {"message": message, "domain": "global", "reason": reason}
    return Answer(
        status,
        {
            "error": {
                "code": status,
                "message": message,
                "errors": [error],
                "status": STATUS_NAMES.get(status, "UNKNOWN"),
            }
        },
    )


def oauth_error(status: int, error: str, description: str) -> Answer:
    """The token endpoint's error body (RFC 6749 5.2)."""
    return Answer(status, {"error": error, "error_description": description})


def not_authorized() -> Answer:
    return api_error(403, "Not Authorized to access this resource/api", "forbidden")
