"""Plusvibe (`x-api-key` header; every call names the account's `workspace_id`).

What was decided, and from where (integrations.md 5.5, developer.plusvibe.ai):
- The reference names the partner endpoint `POST /partner-upload-regular-accounts`, but the
  vendor's page for it signs in with a Plusvibe username and password (an infrastructure
  partner's login), not an API key. The same upload for an API key is the documented user
  endpoint `POST /account/bulk-add-regular-accounts` (tags "Email Account"; header
  `x-api-key`): `{"workspace_id", "accounts": [...]}`. That is the one used, one account per
  call. Each account carries `first_name`, `last_name`, `email`, the IMAP login as `username`
  and `password` with `imap_host`/`imap_port`, the SMTP login as `smtp_username` and
  `smtp_password` with `smtp_host`/`smtp_port`, and the limits `daily_limit`, `min_interval`
  (minutes between sends), `enable_warmup` ("yes"/"no") and `warmup_daily_limit`. The vendor's
  item schema was only partly readable; these names are the ones integrations in the wild send
  to that endpoint.
- The upload is accepted asynchronously (`{"status": "success"}`; Plusvibe e-mails the
  results), so no account id comes back: the mailbox's id at Plusvibe is its address.
- Plusvibe would be asked to add an address twice, so each push first looks the address up
  (`GET /account/list?workspace_id=&email=`): one it holds is reported UPDATED (its id) and is
  not uploaded again. Plusvibe's bulk settings update takes fields the reference does not name,
  so a held account keeps the settings it has.
- The endpoint takes SMTP accounts only ("non-Google / non-Microsoft"): Google and Microsoft
  mailboxes are skipped with the reason; they connect to Plusvibe with its OAuth flow.
- The account test and the workspace list are `GET /authenticate` ("Get workspaces": tests the
  key and lists `{"workspaces": [{"_id", "name"}]}`); the test also says when the account's
  `workspace_id` is not one of the key's workspaces.
- Removal (a domain swap takes the burned addresses out) is not supported yet: the vendor's
  API reference lists a "Delete Email account" operation (POST, under Email Account), but its
  path and body could not be read from the documentation, and no endpoint is guessed here.
  `remove` raises RemovalNotSupported; the account is deleted in Plusvibe by hand.
"""

from __future__ import annotations

from typing import Any

import httpx

from mailfleet.config import Settings
from mailfleet.exports.apps import http
from mailfleet.exports.apps.protocol import (
    AppAccount,
    AppError,
    Check,
    ExportSettings,
    MailboxCredential,
    Pushed,
    RemoteWorkspace,
    RemovalNotSupported,
)
from mailfleet.models import MailboxType

NO_WORKSPACE = (
    "The Plusvibe account has no workspace_id (config): every Plusvibe call names one; "
    "GET /v1/export-accounts/{id}/workspaces lists the key's workspaces."
)

REMOVAL_NOT_SUPPORTED = (
    "Mailfleet cannot delete Plusvibe email accounts through the API yet: delete the account in "
    "Plusvibe (Email Accounts)."
)


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def account_body(mailbox: MailboxCredential, settings: ExportSettings) -> dict[str, Any]:
    login = mailbox.login_password
    return {
        "first_name": mailbox.first_name,
        "last_name": mailbox.last_name,
        "email": mailbox.email,
        "username": mailbox.email,
        "password": login,
        "imap_host": mailbox.imap_host,
        "imap_port": mailbox.imap_port,
        "smtp_username": mailbox.email,
        "smtp_password": login,
        "smtp_host": mailbox.smtp_host,
        "smtp_port": mailbox.smtp_port,
        "daily_limit": settings.daily_limit,
        "min_interval": settings.sending_gap_minutes,
        "enable_warmup": _yes(settings.warmup_enabled),
        "warmup_daily_limit": settings.warmup_limit,
    }


class PlusvibeConnection:
    def __init__(
        self, base_url: str, api_key: str, workspace_id: str | None, timeout: float
    ) -> None:
        self._http = http.client(base_url, timeout=timeout, headers={"x-api-key": api_key})
        self._workspace_id = workspace_id

    def check(self) -> Check:
        response = http.send(self._http, "GET", "authenticate", params=self._params())
        if not response.is_success:
            return Check(False, http.message_of(response))
        if not self._workspace_id:
            return Check(False, NO_WORKSPACE)
        ids = {w.id for w in self._listed(response)}
        if self._workspace_id not in ids:
            return Check(
                False, f"The API key works, but {self._workspace_id} is not one of its workspaces."
            )
        return Check(True, "The API key works.")

    def workspaces(self) -> list[RemoteWorkspace]:
        return self._listed(http.send(self._http, "GET", "authenticate", params=self._params()))

    def push(self, mailbox: MailboxCredential, settings: ExportSettings) -> Pushed:
        if not self._workspace_id:
            raise AppError(NO_WORKSPACE)
        held = self._find(mailbox.email)
        if held is not None:
            return Pushed("UPDATED", held)
        body = {"workspace_id": self._workspace_id, "accounts": [account_body(mailbox, settings)]}
        answer = http.json_of(
            http.send(self._http, "POST", "account/bulk-add-regular-accounts", json=body)
        )
        if isinstance(answer, dict) and str(answer.get("status", "success")).lower() not in (
            "success",
            "ok",
        ):
            raise AppError(str(answer.get("message") or "Plusvibe refused the account."))
        return Pushed("CREATED", mailbox.email)

    def remove(self, email: str) -> bool:
        raise RemovalNotSupported(REMOVAL_NOT_SUPPORTED)

    def close(self) -> None:
        self._http.close()

    def _params(self) -> dict[str, str]:
        return {"workspace_id": self._workspace_id} if self._workspace_id else {}

    def _find(self, email: str) -> str | None:
        params = {**self._params(), "email": email, "skip": 0, "limit": 10}
        body = http.json_of(http.send(self._http, "GET", "account/list", params=params))
        accounts = body.get("accounts", []) if isinstance(body, dict) else []
        for account in accounts:
            if isinstance(account, dict) and str(account.get("email", "")).lower() == email.lower():
                return str(account.get("_id") or account.get("id") or email)
        return None

    @staticmethod
    def _listed(response: httpx.Response) -> list[RemoteWorkspace]:
        body = http.json_of(response)
        found = body.get("workspaces", []) if isinstance(body, dict) else []
        return [
            RemoteWorkspace(id=str(w.get("_id") or w.get("id")), name=str(w.get("name", "")))
            for w in found
            if isinstance(w, dict) and (w.get("_id") or w.get("id"))
        ]


class Plusvibe:
    credential_sets = (frozenset({"api_key"}),)
    config_keys = frozenset({"workspace_id"})
    needs_instance_url = False

    def __init__(self, settings: Settings) -> None:
        self._base_url = settings.export_plusvibe_base_url
        self._timeout = settings.export_timeout

    def skip_reason(self, mailbox_type: MailboxType) -> str | None:
        if mailbox_type in (MailboxType.GOOGLE, MailboxType.MICROSOFT):
            return (
                f"Plusvibe's API adds SMTP accounts only, not {mailbox_type.value} ones: "
                "connect it in Plusvibe with its Google/Microsoft sign-in."
            )
        return None

    def connect(self, account: AppAccount) -> PlusvibeConnection:
        return PlusvibeConnection(
            self._base_url,
            account.credentials["api_key"],
            account.config.get("workspace_id"),
            self._timeout,
        )
