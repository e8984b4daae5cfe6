"""Instantly, API v2 (`Authorization: Bearer <key>`): POST /accounts creates an IMAP/SMTP
account, PATCH /accounts/{email} updates it, POST /accounts/warmup/enable turns warm-up on,
DELETE /accounts/{email} removes it.

An account is keyed by its email at Instantly, so a mailbox it holds already (a re-export, or
a job resumed after a crash) answers 409 on create and is updated in place: never duplicated.

Removal (a domain swap takes the burned addresses out): `DELETE /api/v2/accounts/{email}`, no
body, scope `accounts:delete` (or `accounts:all`/`all:delete`/`all:all`); it answers the
deleted account (integrations.md 5.1 "GET/PATCH/DELETE /accounts/{email}"; developer.instantly.ai,
API v2, Account, "Delete account"). A 404 (no such account) is "not held": False. 429 and 5xx
are retryable with Retry-After, 401 is not, as for the push (`apps.http.error`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

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
)
from mailfleet.models import MailboxType

# Instantly's provider_code per mailbox type: 1 custom IMAP/SMTP, 2 Google, 3 Microsoft.
PROVIDER_CODES = {
    MailboxType.GOOGLE: 2,
    MailboxType.MICROSOFT: 3,
    MailboxType.SMTP: 1,
    MailboxType.SMTP_DEDICATED: 1,
}


def _settings_body(settings: ExportSettings) -> dict[str, Any]:
    body: dict[str, Any] = {
        "daily_limit": settings.daily_limit,
        "sending_gap": settings.sending_gap_minutes,
        "warmup": {
            "limit": settings.warmup_limit,
            "increment": str(settings.warmup_increment),
            "reply_rate": settings.warmup_reply_rate,
        },
    }
    if settings.tracking_domain:
        body["tracking_domain_name"] = settings.tracking_domain
    return body


def account_body(mailbox: MailboxCredential, settings: ExportSettings) -> dict[str, Any]:
    return {
        "email": mailbox.email,
        "first_name": mailbox.first_name,
        "last_name": mailbox.last_name,
        "provider_code": PROVIDER_CODES[mailbox.mailbox_type],
        "imap_username": mailbox.email,
        "imap_password": mailbox.login_password,
        "imap_host": mailbox.imap_host,
        "imap_port": mailbox.imap_port,
        "smtp_username": mailbox.email,
        "smtp_password": mailbox.login_password,
        "smtp_host": mailbox.smtp_host,
        "smtp_port": mailbox.smtp_port,
        **_settings_body(settings),
    }


def _exists(error: AppError) -> bool:
    return error.status == 409 or "already exists" in error.message.lower()


class InstantlyConnection:
    def __init__(self, base_url: str, api_key: str, timeout: float) -> None:
        self._http = http.client(
            base_url, timeout=timeout, headers={"Authorization": f"Bearer {api_key}"}
        )

    def check(self) -> Check:
        response = http.send(self._http, "GET", "accounts", params={"limit": 1})
        if response.is_success:
            return Check(True, "The API key works.")
        return Check(False, http.message_of(response))

    def workspaces(self) -> list[RemoteWorkspace]:
        # A key belongs to one Instantly workspace: the list is that one.
        body = http.json_of(http.send(self._http, "GET", "workspaces/current"))
        return [RemoteWorkspace(id=str(body.get("id", "")), name=str(body.get("name", "")))]

    def push(self, mailbox: MailboxCredential, settings: ExportSettings) -> Pushed:
        try:
            self._ok(
                http.send(self._http, "POST", "accounts", json=account_body(mailbox, settings))
            )
            outcome: Pushed = Pushed("CREATED", mailbox.email)
        except AppError as exc:
            if not _exists(exc):
                raise
            path = f"accounts/{quote(mailbox.email, safe='@')}"
            self._ok(http.send(self._http, "PATCH", path, json=_settings_body(settings)))
            outcome = Pushed("UPDATED", mailbox.email)
        if settings.warmup_enabled:
            body = {"emails": [mailbox.email]}
            self._ok(http.send(self._http, "POST", "accounts/warmup/enable", json=body))
        return outcome

    def remove(self, email: str) -> bool:
        path = f"accounts/{quote(email, safe='@')}"
        response = http.send(self._http, "DELETE", path)
        if response.status_code == 404:
            return False
        self._ok(response)
        return True

    def close(self) -> None:
        self._http.close()

    @staticmethod
    def _ok(response: httpx.Response) -> None:
        if response.is_error:
            raise http.error(response)


class Instantly:
    credential_sets = (frozenset({"api_key"}),)
    config_keys: frozenset[str] = frozenset()
    needs_instance_url = False

    def __init__(self, settings: Settings) -> None:
        self._base_url = settings.export_instantly_base_url
        self._timeout = settings.export_timeout

    def skip_reason(self, mailbox_type: MailboxType) -> str | None:
        return None

    def connect(self, account: AppAccount) -> InstantlyConnection:
        return InstantlyConnection(self._base_url, account.credentials["api_key"], self._timeout)
