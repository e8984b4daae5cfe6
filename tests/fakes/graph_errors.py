"""Graph's error answers, for the fake's modules (tests/fakes/graph.py, graph_users.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

Json = dict[str, Any]


class GraphError(Exception):
    """An error in Graph's shape `{"error": {"code", "message", "innerError", ["details"]}}`."""

    def __init__(
        self, status: int, code: str, message: str, details: list[Json] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details

    def body(self) -> Json:
        inner = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "request-id": "fake"}
        error: Json = {"code": self.code, "message": self.message, "innerError": inner}
        return {"error": {**error, "details": self.details} if self.details else error}


def not_found(key: str) -> GraphError:
    return GraphError(
        404,
        "Request_ResourceNotFound",
        f"Resource '{key}' does not exist or one of its queried reference-property objects "
        "are not present.",
    )


def bad_request(message: str, *, target: str | None = None, code: str = "") -> GraphError:
    details = [{"code": code, "message": message, "target": target}] if code else None
    return GraphError(400, "Request_BadRequest", message, details)


def invalid_property(name: str) -> GraphError:
    return bad_request(f"Invalid value specified for property '{name}' of resource 'User'.")
