"""A local fake of an EmailBison instance's sender-email endpoints (`Authorization: Bearer`).

POST /api/sender-emails/imap-smtp validates the required fields and types (422 with Laravel's
`{message, errors}`) and refuses an address it holds (422 "has already been taken"); GET
/api/sender-emails lists, GET /api/sender-emails/{id|email} finds one (404), PATCH
/api/sender-emails/{id} updates one, DELETE /api/sender-emails/{id} deletes one (404 unknown;
`deleted` records each id deleted). Answers are wrapped in `{"data": ...}`.
"""

from __future__ import annotations

import itertools
import re
from typing import Any
from urllib.parse import unquote

from tests.fakes.sequencers.base import Answer, Json, SequencerFake, require

REQUIRED: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "email": str,
    "password": str,
    "imap_server": str,
    "imap_port": int,
    "smtp_server": str,
    "smtp_port": int,
}


def _invalid(field: str, message: str) -> Answer:
    return Answer(422, {"message": message, "errors": {field: [message]}})


class EmailBisonFake(SequencerFake):
    gated = ("/api/sender-emails/imap-smtp",)

    def __init__(self, api_key: str = "good-key", **kwargs: Any) -> None:
        self.senders: dict[int, Json] = {}
        self.deleted: list[int] = []  # every id a DELETE removed, in order
        self._ids = itertools.count(501)
        super().__init__(api_key, **kwargs)

    def authenticate(self, headers: dict[str, str], query: dict[str, str]) -> None:
        if headers.get("authorization") != f"Bearer {self.api_key}":
            raise Answer(401, {"message": "Unauthenticated."})

    def routes(self) -> None:
        self.route("POST", r"/api/sender-emails/imap-smtp", self._create)
        self.route("GET", r"/api/sender-emails", self._list)
        self.route("GET", r"/api/sender-emails/(?P<key>[^/]+)", self._get)
        self.route("PATCH", r"/api/sender-emails/(?P<key>\d+)", self._patch)
        self.route("DELETE", r"/api/sender-emails/(?P<key>\d+)", self._delete)

    def _find(self, key: str) -> Json:
        key = unquote(key).lower()
        for sender in self.senders.values():
            if str(sender["id"]) == key or sender["email"] == key:
                return sender
        raise Answer(404, {"message": "Sender email not found."})

    def _create(self, match: re.Match[str], query: dict[str, str], body: Json) -> tuple[int, Json]:
        require(body, REQUIRED, lambda name: _invalid(name, f"The {name} field is required."))
        with self.lock:
            if any(s["email"] == body["email"].lower() for s in self.senders.values()):
                raise _invalid("email", "The email has already been taken.")
            sender = {**body, "email": body["email"].lower(), "id": next(self._ids)}
            self.senders[sender["id"]] = sender
        return 201, {"data": sender}

    def _list(self, match: re.Match[str], query: dict[str, str], body: Json) -> tuple[int, Json]:
        with self.lock:
            return 200, {"data": list(self.senders.values())}

    def _get(self, match: re.Match[str], query: dict[str, str], body: Json) -> tuple[int, Json]:
        with self.lock:
            return 200, {"data": self._find(match["key"])}

    def _patch(self, match: re.Match[str], query: dict[str, str], body: Json) -> tuple[int, Json]:
        with self.lock:
            sender = self._find(match["key"])
            sender.update(body or {})
            return 200, {"data": sender}

    def _delete(self, match: re.Match[str], query: dict[str, str], body: Json) -> tuple[int, Json]:
        with self.lock:
            sender = self._find(match["key"])
            del self.senders[sender["id"]]
            self.deleted.append(sender["id"])
        return 200, {"data": {"success": True, "message": "Sender email deleted successfully."}}
