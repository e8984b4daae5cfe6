"""A local fake of lemlist's email-account endpoints (HTTP Basic, empty user, key as password).

POST /user/email-accounts validates the required fields and types and the optional
`smtp_secure`/`imap_secure` (booleans) and `userId` (a member of the team), all 400
`{message}` ("Bad params: ..."); refuses Gmail's SMTP/IMAP hosts (400, OAuth only) and
private hosts (400, lemlist's SSRF check); refuses an address it holds (409 "already
exists"); answers `{"id": "umx_...", "email", "provider": "custom"}`. POST
/user/email-accounts/{id}/test answers `{smtp: {success}, imap: {success}}`; GET /team is the
key's team.
"""

from __future__ import annotations

import base64
import itertools
import re
from typing import Any

from tests.fakes.sequencers.base import Answer, Json, SequencerFake, require

REQUIRED: dict[str, type | tuple[type, ...]] = {
    "sender_name": str,
    "sender_email": str,
    "smtp_host": str,
    "smtp_port": int,
    "smtp_login": str,
    "smtp_password": str,
    "imap_host": str,
    "imap_port": int,
    "imap_login": str,
    "imap_password": str,
}
GMAIL_HOSTS = {"smtp.gmail.com", "imap.gmail.com", "smtp.googlemail.com", "imap.googlemail.com"}
PRIVATE = re.compile(r"^(localhost|127\.|10\.|192\.168\.|169\.254\.|0\.0\.0\.0)")


def _bad(message: str) -> Answer:
    return Answer(400, {"message": f"Bad params: {message}"})


class LemlistFake(SequencerFake):
    prefix = "/api"
    gated = ("/user/email-accounts",)

    def __init__(self, api_key: str = "good-key", **kwargs: Any) -> None:
        self.accounts: dict[str, Json] = {}
        self.team = {"_id": "tea_A1B2C3", "name": "Acme", "userIds": ["usr_OWNER", "usr_ADA"]}
        self._ids = (f"umx_{n:016d}" for n in itertools.count(1))
        super().__init__(api_key, **kwargs)

    def authenticate(self, headers: dict[str, str], query: dict[str, str]) -> None:
        expected = "Basic " + base64.b64encode(f":{self.api_key}".encode()).decode()
        if headers.get("authorization") != expected:
            raise Answer(401, {"message": "Invalid API key"})

    def routes(self) -> None:
        self.route("POST", r"/user/email-accounts", self._connect)
        self.route("POST", r"/user/email-accounts/(?P<id>[^/]+)/test", self._test)
        self.route("GET", r"/team", lambda m, q, b: (200, self.team))

    def addresses(self) -> list[str]:
        with self.lock:
            return list(self.accounts)

    def _connect(self, match: re.Match[str], query: dict[str, str], body: Json) -> tuple[int, Json]:
        require(body, REQUIRED, lambda name: _bad(f'"{name}" is required'))
        for name in ("smtp_secure", "imap_secure"):
            if name in body and not isinstance(body[name], bool):
                raise _bad(f'"{name}" must be a boolean')
        if "userId" in body and body["userId"] not in self.team["userIds"]:
            raise _bad('"userId" must be a member of the team')
        hosts = {body["smtp_host"].lower(), body["imap_host"].lower()}
        if hosts & GMAIL_HOSTS:
            raise Answer(
                400, {"message": "Gmail SMTP/IMAP connections are not allowed, use OAuth instead"}
            )
        if any(PRIVATE.match(host) for host in hosts):
            raise Answer(400, {"message": "This host is not allowed"})
        email = body["sender_email"].lower()
        with self.lock:
            if email in self.accounts:
                raise Answer(409, {"message": f"Email account {email} already exists"})
            account = {**body, "sender_email": email, "id": next(self._ids)}
            self.accounts[email] = account
        return 200, {"id": account["id"], "email": email, "provider": "custom"}

    def _test(self, match: re.Match[str], query: dict[str, str], body: Json) -> tuple[int, Json]:
        with self.lock:
            if not any(a["id"] == match["id"] for a in self.accounts.values()):
                raise Answer(404, {"message": "Email account not found"})
        return 200, {"smtp": {"success": True}, "imap": {"success": True}}
