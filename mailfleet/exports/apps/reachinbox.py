"""ReachInbox (`Authorization: Bearer <API key>`).

What was decided, and from where (integrations.md 5.6, docs.reachinbox.ai "Account"):
- The public API documents `GET /account/all` (query `contains`, `status`, `limit`, `offset`,
  `sortField`, `order`; answer `{"status", "message", "data": {"emailsConnected": [...]}}`,
  each with `id`, `email`, `firstName`, `imapHost`, `smtpHost`, ...) and no endpoint that adds
  an account, and none that takes the CSV import either: ReachInbox's import of the
  Instantly-style CSV (`GET /v1/exports.csv?format=REACHINBOX`) is done in its app. No endpoint
  is guessed here.
- So an API export to ReachInbox confirms what ReachInbox holds: a mailbox it holds (found by
  its address through `/account/all?contains=`) is UPDATED with ReachInbox's id (nothing is
  sent: there is no update endpoint either); one it does not hold is FAILED, permanently (not
  retried), with the reason saying to import the CSV and export again. Nothing is ever created
  twice because nothing is created.
- The account test is `GET /account/all?limit=1`. ReachInbox has no sub-workspaces in its API:
  the workspace list is "not supported", as for EmailBison.
- An account saved with an email and password (the Zapmail surface keeps ReachInbox's login as
  given) cannot call the API, which takes an API key: its test and its pushes say so.
- Removal (a domain swap takes the burned addresses out) is not supported: the public API's
  Account section documents `GET /account/all` only, no delete. `remove` raises
  RemovalNotSupported; the account is removed in ReachInbox by hand.
"""

from __future__ import annotations

from typing import Any

from mailfleet.config import Settings
from mailfleet.exports.apps import http
from mailfleet.exports.apps.protocol import (
    AppAccount,
    AppError,
    Check,
    ExportSettings,
    MailboxCredential,
    NoWorkspaces,
    Pushed,
    RemoteWorkspace,
    RemovalNotSupported,
)
from mailfleet.models import MailboxType

NOT_HELD = (
    "ReachInbox's API cannot add an account: import the mailbox into ReachInbox from "
    "GET /v1/exports.csv?format=REACHINBOX (Email Accounts, Import CSV), then export again."
)
NO_KEY = (
    "This ReachInbox account has an email and password; ReachInbox's API takes an API key "
    "(credentials.api_key)."
)
LOOKUP_LIMIT = 50
REMOVAL_NOT_SUPPORTED = (
    "ReachInbox's API has no endpoint that deletes an account: remove it in ReachInbox "
    "(Email Accounts)."
)


def _accounts(body: Any) -> list[dict[str, Any]]:
    data = body.get("data") if isinstance(body, dict) else None
    found = data.get("emailsConnected") if isinstance(data, dict) else None
    return [a for a in found if isinstance(a, dict)] if isinstance(found, list) else []


class ReachInboxConnection:
    def __init__(self, base_url: str, api_key: str | None, timeout: float) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = http.client(base_url, timeout=timeout, headers=headers)
        self._has_key = api_key is not None

    def check(self) -> Check:
        if not self._has_key:
            return Check(False, NO_KEY)
        params = {"limit": 1, "offset": 0, "status": "all"}
        response = http.send(self._http, "GET", "account/all", params=params)
        if response.is_success:
            return Check(True, "The API key works.")
        return Check(False, http.message_of(response))

    def workspaces(self) -> list[RemoteWorkspace]:
        raise NoWorkspaces

    def push(self, mailbox: MailboxCredential, settings: ExportSettings) -> Pushed:
        if not self._has_key:
            raise AppError(NO_KEY)
        params = {
            "contains": mailbox.email,
            "status": "all",
            "limit": LOOKUP_LIMIT,
            "offset": 0,
        }
        body = http.json_of(http.send(self._http, "GET", "account/all", params=params))
        for account in _accounts(body):
            if str(account.get("email", "")).lower() == mailbox.email.lower():
                return Pushed("UPDATED", str(account.get("id") or mailbox.email))
        raise AppError(NOT_HELD)

    def remove(self, email: str) -> bool:
        raise RemovalNotSupported(REMOVAL_NOT_SUPPORTED)

    def close(self) -> None:
        self._http.close()


class ReachInbox:
    credential_sets = (frozenset({"api_key"}), frozenset({"email", "password"}))
    config_keys: frozenset[str] = frozenset()
    needs_instance_url = False

    def __init__(self, settings: Settings) -> None:
        self._base_url = settings.export_reachinbox_base_url
        self._timeout = settings.export_timeout

    def skip_reason(self, mailbox_type: MailboxType) -> str | None:
        return None

    def connect(self, account: AppAccount) -> ReachInboxConnection:
        return ReachInboxConnection(
            self._base_url, account.credentials.get("api_key"), self._timeout
        )
