"""A local fake of ReachInbox's documented account endpoint (`Authorization: Bearer`).

GET /account/all validates its query (`limit` and `offset` whole numbers, `limit` at most 100;
400 `{status, message}`) and answers ReachInbox's shape,
`{"status": 200, "message": ..., "data": {"totalEmailsConnected", "emailsConnected": [...]}}`,
filtered by `contains` (part of the address). ReachInbox's API has no endpoint that adds an
account: this fake has none either, and a test puts accounts in with `connect()` (what the
CSV import in ReachInbox's app does). Any other path is 404.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from tests.fakes.sequencers.base import Answer, Json, SequencerFake


def _error(status: int, message: str) -> Json:
    return {"status": status, "message": message}


class ReachInboxFake(SequencerFake):
    prefix = "/api/v1"

    def __init__(self, api_key: str = "good-key", **kwargs: Any) -> None:
        self.accounts: list[Json] = []
        self._ids = itertools.count(1001)
        super().__init__(api_key, **kwargs)

    def error_body(self, status: int, message: str) -> Json:
        return _error(status, message)

    def authenticate(self, headers: dict[str, str], query: dict[str, str]) -> None:
        if headers.get("authorization") != f"Bearer {self.api_key}":
            raise Answer(401, _error(401, "Unauthorized: invalid API key"))

    def routes(self) -> None:
        self.route("GET", r"/account/all", self._all)

    def connect(self, email: str, *, first_name: str = "Ada", last_name: str = "Stone") -> int:
        """An account as ReachInbox's own CSV import would add it; its id."""
        with self.lock:
            account_id = next(self._ids)
            self.accounts.append(
                {
                    "id": account_id,
                    "email": email.lower(),
                    "firstName": first_name,
                    "lastName": last_name,
                    "isActive": True,
                    "provider": "custom",
                    "imapHost": "imap.mail.test",
                    "imapPort": 993,
                    "smtpHost": "smtp.mail.test",
                    "smtpPort": 587,
                }
            )
        return account_id

    def _all(self, match: re.Match[str], query: dict[str, str], body: Json) -> tuple[int, Json]:
        numbers = {}
        for name, default in (("limit", "10"), ("offset", "0")):
            value = query.get(name, default)
            if not value.isdigit():
                raise Answer(400, _error(400, f'"{name}" must be a number'))
            numbers[name] = int(value)
        if numbers["limit"] > 100:
            raise Answer(400, _error(400, '"limit" must be less than or equal to 100'))
        contains = query.get("contains", "").lower()
        with self.lock:
            found = [a for a in self.accounts if contains in a["email"]]
        page = found[numbers["offset"] : numbers["offset"] + numbers["limit"]]
        return 200, {
            "status": 200,
            "message": "Email accounts fetched successfully.",
            "data": {
                "totalEmailsConnected": len(found),
                "totalActiveEmails": len(found),
                "emailsConnected": page,
            },
        }
