"""A local fake of Plusvibe's email-account endpoints (`x-api-key`; `workspace_id` on every call).

POST /account/bulk-add-regular-accounts validates `workspace_id` (one of the key's), `accounts`
and each account's required fields and types (400 `{status: "error", message}`), and accepts
the upload (`{"status": "success"}`: the real one processes it later and e-mails the results;
this one adds the accounts at once, so a test sees them). Like the real upload, it does not
refuse an address it holds: a second upload of one would be a second account, so a client
that does not look first would duplicate. GET /account/list (`email`, `skip`, `limit`) lists,
GET /authenticate tests the key and lists its workspaces (`_id`, `name`).
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from tests.fakes.sequencers.base import Answer, Json, SequencerFake, require

REQUIRED: dict[str, type | tuple[type, ...]] = {
    "first_name": str,
    "last_name": str,
    "email": str,
    "username": str,
    "password": str,
    "imap_host": str,
    "imap_port": int,
    "smtp_username": str,
    "smtp_password": str,
    "smtp_host": str,
    "smtp_port": int,
}
OPTIONAL_INTS = ("daily_limit", "min_interval", "warmup_daily_limit")
YES_NO = {"yes", "no"}


def _error(message: str) -> Json:
    return {"status": "error", "message": message}


class PlusvibeFake(SequencerFake):
    prefix = "/api/v1"
    gated = ("/account/bulk-add-regular-accounts",)

    def __init__(self, api_key: str = "good-key", **kwargs: Any) -> None:
        self.workspaces = [
            {"_id": "65099a0dd96fae8ab61120c0", "name": "Acme"},
            {"_id": "65099a0dd96fae8ab61120c1", "name": "Acme EU"},
        ]
        self.accounts: list[Json] = []
        self.uploads = 0
        self._ids = (f"6600000000000000000{n:05d}" for n in itertools.count(1))
        super().__init__(api_key, **kwargs)

    def error_body(self, status: int, message: str) -> Json:
        return _error(message)

    def authenticate(self, headers: dict[str, str], query: dict[str, str]) -> None:
        if headers.get("x-api-key") != self.api_key:
            raise Answer(401, _error("Invalid API key"))

    def routes(self) -> None:
        self.route("POST", r"/account/bulk-add-regular-accounts", self._upload)
        self.route("GET", r"/account/list", self._list)
        self.route("GET", r"/authenticate", self._authenticate)

    def addresses(self) -> list[str]:
        with self.lock:
            return [a["email"] for a in self.accounts]

    def _workspace(self, workspace_id: object) -> None:
        if not isinstance(workspace_id, str) or not workspace_id:
            raise Answer(400, _error("workspace_id is required"))
        if workspace_id not in {w["_id"] for w in self.workspaces}:
            raise Answer(403, _error("You do not have access to this workspace"))

    def _upload(self, match: re.Match[str], query: dict[str, str], body: Json) -> tuple[int, Json]:
        if not isinstance(body, dict):
            raise Answer(400, _error("body is required"))
        self._workspace(body.get("workspace_id"))
        accounts = body.get("accounts")
        if not isinstance(accounts, list) or not accounts:
            raise Answer(400, _error("accounts is required"))
        for account in accounts:
            require(account, REQUIRED, lambda name: Answer(400, _error(f"{name} is required")))
            for name in OPTIONAL_INTS:
                value = account.get(name)
                if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                    raise Answer(400, _error(f"{name} must be a number"))
            if account.get("enable_warmup", "no") not in YES_NO:
                raise Answer(400, _error('enable_warmup must be "yes" or "no"'))
        with self.lock:
            self.uploads += 1
            for account in accounts:
                self.accounts.append(
                    {
                        **account,
                        "_id": next(self._ids),
                        "email": account["email"].lower(),
                        "workspace_id": body["workspace_id"],
                        "status": "ACTIVE",
                    }
                )
        return 200, {"status": "success"}

    def _list(self, match: re.Match[str], query: dict[str, str], body: Json) -> tuple[int, Json]:
        self._workspace(query.get("workspace_id"))
        skip, limit = int(query.get("skip", "0")), int(query.get("limit", "100"))
        email = query.get("email", "").lower()
        with self.lock:
            found = [
                a
                for a in self.accounts
                if a["workspace_id"] == query["workspace_id"] and (not email or a["email"] == email)
            ]
        return 200, {
            "accounts": [
                {"_id": a["_id"], "email": a["email"], "status": a["status"]}
                for a in found[skip : skip + limit]
            ]
        }

    def _authenticate(
        self, match: re.Match[str], query: dict[str, str], body: Json
    ) -> tuple[int, Json]:
        return 200, {"status": "success", "workspaces": self.workspaces}
