"""A local fake of Smartlead's email-account endpoints (`?api_key=`).

POST /email-accounts/save validates the required fields and types (400 `{message}`), creates an
account (a new numeric id: like any form, a second save without `id` makes a second account
for the same address, so a client that does not look first would duplicate), or updates the
one whose `id` is given (404 unknown); GET /email-accounts/ pages (limit at most 100);
DELETE /email-accounts/{id} deletes one (`{ok, message, emailAccountId}`; 404 unknown;
`deleted` records each id deleted); GET /client/ lists the agency's clients.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from tests.fakes.sequencers.base import Answer, Json, SequencerFake, require

REQUIRED: dict[str, type | tuple[type, ...]] = {
    "from_name": str,
    "from_email": str,
    "user_name": str,
    "password": str,
    "smtp_host": str,
    "smtp_port": int,
    "imap_host": str,
    "imap_port": int,
    "warmup_enabled": bool,
}
TYPES = {"GMAIL", "OUTLOOK", "SMTP"}


class SmartleadFake(SequencerFake):
    prefix = "/api/v1"
    gated = ("/email-accounts/save",)

    def __init__(self, api_key: str = "good-key", **kwargs: Any) -> None:
        self.accounts: dict[int, Json] = {}
        self.clients = [
            {"id": 11, "name": "Client A", "email": "a@client.test"},
            {"id": 12, "name": "Client B", "email": "b@client.test"},
        ]
        self.deleted: list[int] = []  # every id a DELETE removed, in order
        self._ids = itertools.count(1001)
        super().__init__(api_key, **kwargs)

    def authenticate(self, headers: dict[str, str], query: dict[str, str]) -> None:
        if query.get("api_key") != self.api_key:
            raise Answer(401, {"message": "Invalid API Key"})

    def routes(self) -> None:
        self.route("POST", r"/email-accounts/save", self._save)
        self.route("GET", r"/email-accounts/?", self._list)
        self.route("DELETE", r"/email-accounts/(?P<id>\d+)/?", self._delete)
        self.route("GET", r"/client/?", lambda m, q, b: (200, self.clients))

    def addresses(self) -> list[str]:
        with self.lock:
            return [a["from_email"].lower() for a in self.accounts.values()]

    def _save(self, match: re.Match[str], query: dict[str, str], body: Json) -> tuple[int, Json]:
        require(body, REQUIRED, lambda name: Answer(400, {"message": f'"{name}" is required'}))
        if body.get("type", "SMTP") not in TYPES:
            raise Answer(400, {"message": '"type" must be one of [GMAIL, OUTLOOK, SMTP]'})
        with self.lock:
            if "id" in body:
                if body["id"] not in self.accounts:
                    raise Answer(404, {"message": "Email account not found"})
                self.accounts[body["id"]].update(body)
                return 200, {
                    "ok": True,
                    "message": "Email account updated successfully!",
                    "emailAccountId": body["id"],
                }
            new_id = next(self._ids)
            self.accounts[new_id] = {**body, "id": new_id}
        return 200, {
            "ok": True,
            "message": "Email account added successfully!",
            "emailAccountId": new_id,
        }

    def _delete(self, match: re.Match[str], query: dict[str, str], body: Json) -> tuple[int, Json]:
        account_id = int(match["id"])
        with self.lock:
            if self.accounts.pop(account_id, None) is None:
                raise Answer(404, {"message": "Email account not found"})
            self.deleted.append(account_id)
        return 200, {
            "ok": True,
            "message": "Email account deleted successfully!",
            "emailAccountId": account_id,
        }

    def _list(self, match: re.Match[str], query: dict[str, str], body: Json) -> tuple[int, Json]:
        offset, limit = int(query.get("offset", "0")), int(query.get("limit", "100"))
        if limit > 100:
            raise Answer(400, {"message": '"limit" must be less than or equal to 100'})
        with self.lock:
            items = list(self.accounts.values())[offset : offset + limit]
        return 200, [
            {"id": a["id"], "from_email": a["from_email"], "from_name": a["from_name"]}
            for a in items
        ]
