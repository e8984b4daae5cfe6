"""Smartlead (`?api_key=` on every call): POST /email-accounts/save creates an account, or
updates the one whose `id` it is given; GET /email-accounts/ pages through the accounts
(at most 100 a page); GET /client/ lists the agency's clients.

Smartlead would add a second account for the same address, so the connection first reads
which addresses the account holds (once, then keeps the ids it learns) and saves those with
their id: a re-export or a resumed job updates, never duplicates.

Removal (a domain swap takes the burned addresses out): Smartlead deletes by id,
`DELETE /api/v1/email-accounts/{email_account_id}?api_key=` (api.smartlead.ai, API reference,
Email Account Management, "Delete Email Account": 200 `{"ok": true, "message",
"emailAccountId"}`, 404 "not found or you don't have access to it", 401, 500; it takes the
account out of every campaign and turns its warm-up off). Its API has no delete by address, so
the id comes from the same paged `GET /email-accounts/` the push reads (loaded once per
connection). Every account with the address is deleted (one made twice before this client
looked first included); an address the list does not hold, or a 404 on every delete (gone in
between), is False. 429/5xx are retryable with Retry-After, 401 is not (`apps.http.error`).
"""

from __future__ import annotations

import threading
from typing import Any

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
)
from mailfleet.models import MailboxType

PAGE = 100


def account_body(mailbox: MailboxCredential, settings: ExportSettings) -> dict[str, Any]:
    body: dict[str, Any] = {
        "from_name": f"{mailbox.first_name} {mailbox.last_name}".strip(),
        "from_email": mailbox.email,
        "user_name": mailbox.email,
        "password": mailbox.login_password,
        "smtp_host": mailbox.smtp_host,
        "smtp_port": mailbox.smtp_port,
        "imap_host": mailbox.imap_host,
        "imap_port": mailbox.imap_port,
        # Credentials, not OAuth: SMTP whatever the mailbox's provider.
        "type": "SMTP",
        "max_email_per_day": settings.daily_limit,
        "time_to_wait_in_mins": settings.sending_gap_minutes,
        "warmup_enabled": settings.warmup_enabled,
    }
    if settings.warmup_enabled:
        body["total_warmup_per_day"] = settings.warmup_limit
        body["daily_rampup"] = settings.warmup_increment
        body["reply_rate_percentage"] = settings.warmup_reply_rate
    if settings.tracking_domain:
        body["custom_tracking_url"] = settings.tracking_domain
    return body


class SmartleadConnection:
    def __init__(self, base_url: str, api_key: str, client_id: str | None, timeout: float) -> None:
        self._http = http.client(base_url, timeout=timeout, params={"api_key": api_key})
        self._client_id = client_id
        # Every account id per address (lower-cased), oldest first; the push saves with the last.
        self._ids: dict[str, list[int]] | None = None
        self._lock = threading.Lock()

    def check(self) -> Check:
        response = http.send(self._http, "GET", "email-accounts/", params={"offset": 0, "limit": 1})
        if response.is_success:
            return Check(True, "The API key works.")
        return Check(False, http.message_of(response))

    def workspaces(self) -> list[RemoteWorkspace]:
        body = http.json_of(http.send(self._http, "GET", "client/"))
        return [RemoteWorkspace(id=str(c["id"]), name=str(c.get("name", ""))) for c in body]

    def push(self, mailbox: MailboxCredential, settings: ExportSettings) -> Pushed:
        held = self._known().get(mailbox.email.lower())
        known = held[-1] if held else None
        body = account_body(mailbox, settings)
        if self._client_id:
            body["client_id"] = (
                int(self._client_id) if self._client_id.isdigit() else self._client_id
            )
        if known is not None:
            body["id"] = known
        answer = http.json_of(http.send(self._http, "POST", "email-accounts/save", json=body))
        if isinstance(answer, dict) and answer.get("ok") is False:
            raise AppError(str(answer.get("message") or "Smartlead refused the account."))
        remote = answer.get("emailAccountId", known) if isinstance(answer, dict) else known
        if remote is None:
            raise AppError("Smartlead saved the account but sent no emailAccountId.")
        with self._lock:
            assert self._ids is not None
            ids = self._ids.setdefault(mailbox.email.lower(), [])
            if int(remote) not in ids:
                ids.append(int(remote))
        return Pushed("UPDATED" if known is not None else "CREATED", str(remote))

    def remove(self, email: str) -> bool:
        held = list(self._known().get(email.lower(), []))
        removed = False
        for account_id in held:
            response = http.send(self._http, "DELETE", f"email-accounts/{account_id}")
            if response.status_code != 404:
                answer = http.json_of(response)
                if isinstance(answer, dict) and answer.get("ok") is False:
                    raise AppError(str(answer.get("message") or "Smartlead refused the delete."))
                removed = True
            with self._lock:
                assert self._ids is not None
                left = [i for i in self._ids.get(email.lower(), []) if i != account_id]
                if left:
                    self._ids[email.lower()] = left
                else:
                    self._ids.pop(email.lower(), None)
        return removed

    def close(self) -> None:
        self._http.close()

    def _known(self) -> dict[str, list[int]]:
        with self._lock:
            if self._ids is None:
                self._ids = self._load()
            return self._ids

    def _load(self) -> dict[str, list[int]]:
        ids: dict[str, list[int]] = {}
        offset = 0
        while True:
            params = {"offset": offset, "limit": PAGE}
            page = http.json_of(http.send(self._http, "GET", "email-accounts/", params=params))
            for account in page:
                ids.setdefault(str(account["from_email"]).lower(), []).append(int(account["id"]))
            if len(page) < PAGE:
                return ids
            offset += PAGE


class Smartlead:
    credential_sets = (frozenset({"api_key"}),)
    config_keys = frozenset({"client_id"})
    needs_instance_url = False

    def __init__(self, settings: Settings) -> None:
        self._base_url = settings.export_smartlead_base_url
        self._timeout = settings.export_timeout

    def skip_reason(self, mailbox_type: MailboxType) -> str | None:
        return None

    def connect(self, account: AppAccount) -> SmartleadConnection:
        return SmartleadConnection(
            self._base_url,
            account.credentials["api_key"],
            account.config.get("client_id"),
            self._timeout,
        )
