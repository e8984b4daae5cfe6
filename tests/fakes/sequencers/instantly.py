"""A local fake of Instantly's API v2 account endpoints (Bearer key).

POST /accounts validates the required IMAP/SMTP fields and their types (400 with Instantly's
`{statusCode, error, message}` body), refuses a second account for an email (409), and keeps
accounts by email; PATCH /accounts/{email} updates one (404 unknown); DELETE
/accounts/{email} deletes one and answers it (404 unknown; `deleted` records each address
deleted); POST /accounts/warmup/enable turns warm-up on; GET /accounts lists; GET
/workspaces/current.
"""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import unquote

from tests.fakes.sequencers.base import Answer, Json, SequencerFake, require

REQUIRED: dict[str, type | tuple[type, ...]] = {
    "email": str,
    "first_name": str,
    "last_name": str,
    "provider_code": int,
    "imap_username": str,
    "imap_password": str,
    "imap_host": str,
    "imap_port": int,
    "smtp_username": str,
    "smtp_password": str,
    "smtp_host": str,
    "smtp_port": int,
}
PROVIDER_CODES = {1, 2, 3, 4, 8}
PATCHABLE = {
    "first_name",
    "last_name",
    "daily_limit",
    "sending_gap",
    "warmup",
    "tracking_domain_name",
}


def _error(status: int, message: str) -> Json:
    names = {
        400: "Bad Request",
        401: "Unauthorized",
        404: "Not Found",
        409: "Conflict",
        429: "Too Many Requests",
    }
    return {
        "statusCode": status,
        "error": names.get(status, "Internal Server Error"),
        "message": message,
    }


class InstantlyFake(SequencerFake):
    prefix = "/api/v2"
    gated = ("/accounts",)

    def __init__(self, api_key: str = "good-key", **kwargs: Any) -> None:
        self.accounts: dict[str, Json] = {}
        self.created: list[str] = []  # every email a POST created, in order
        self.deleted: list[str] = []  # every email a DELETE removed, in order
        self.workspace = {"id": str(uuid.uuid4()), "name": "Acme outreach"}
        super().__init__(api_key, **kwargs)

    def error_body(self, status: int, message: str) -> Json:
        return _error(status, message)

    def authenticate(self, headers: dict[str, str], query: dict[str, str]) -> None:
        if headers.get("authorization") != f"Bearer {self.api_key}":
            raise Answer(401, _error(401, "Invalid API key"))

    def routes(self) -> None:
        self.route("POST", r"/accounts", self._create)
        self.route("GET", r"/accounts", self._list)
        self.route("POST", r"/accounts/warmup/enable", self._warmup)
        self.route("PATCH", r"/accounts/(?P<email>[^/]+)", self._patch)
        self.route("DELETE", r"/accounts/(?P<email>[^/]+)", self._delete)
        self.route("GET", r"/workspaces/current", lambda m, q, b: (200, self.workspace))

    def _create(self, match: re.Match[str], query: dict[str, str], body: Json) -> tuple[int, Json]:
        require(
            body,
            REQUIRED,
            lambda name: Answer(400, _error(400, f"body must have required property '{name}'")),
        )
        if body["provider_code"] not in PROVIDER_CODES:
            raise Answer(
                400, _error(400, "body/provider_code must be equal to one of the allowed values")
            )
        email = body["email"].lower()
        with self.lock:
            if email in self.accounts:
                raise Answer(409, _error(409, f"Account {email} already exists"))
            account = {**body, "email": email, "status": 1, "warmup_status": 0}
            self.accounts[email] = account
            self.created.append(email)
        return 200, account

    def _patch(self, match: re.Match[str], query: dict[str, str], body: Json) -> tuple[int, Json]:
        email = unquote(match["email"]).lower()
        unknown = set(body or {}) - PATCHABLE
        if unknown:
            raise Answer(
                400, _error(400, f"body must NOT have additional properties: {sorted(unknown)}")
            )
        with self.lock:
            if email not in self.accounts:
                raise Answer(404, _error(404, "Account not found"))
            self.accounts[email].update(body or {})
            return 200, self.accounts[email]

    def _delete(self, match: re.Match[str], query: dict[str, str], body: Json) -> tuple[int, Json]:
        email = unquote(match["email"]).lower()
        with self.lock:
            if email not in self.accounts:
                raise Answer(404, _error(404, "Account not found"))
            self.deleted.append(email)
            return 200, self.accounts.pop(email)

    def _warmup(self, match: re.Match[str], query: dict[str, str], body: Json) -> tuple[int, Json]:
        emails = (body or {}).get("emails")
        if not isinstance(emails, list) or not emails:
            raise Answer(400, _error(400, "body must have required property 'emails'"))
        with self.lock:
            for email in emails:
                if email.lower() in self.accounts:
                    self.accounts[email.lower()]["warmup_status"] = 1
        return 200, {"id": str(uuid.uuid4()), "status": "pending"}

    def _list(self, match: re.Match[str], query: dict[str, str], body: Json) -> tuple[int, Json]:
        limit = int(query.get("limit", "10"))
        with self.lock:
            items = list(self.accounts.values())[:limit]
        return 200, {"items": items, "next_starting_after": None}
