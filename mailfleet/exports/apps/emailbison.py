"""EmailBison, self-hosted per customer (the account's instance_url; `Authorization: Bearer`):
POST /api/sender-emails/imap-smtp creates a sender email (one password for both protocols),
GET /api/sender-emails/{email} finds one, PATCH /api/sender-emails/{id} updates it.

The lookup by email before creating is what keeps a re-export or a resumed job from adding a
second sender for the same address.

Removal (a domain swap takes the burned addresses out): the sender email is found by its
address (`GET /api/sender-emails/{email}`, as the push does; 404 is "not held": False), then
deleted by its id, `DELETE /api/sender-emails/{senderEmailId}` ("Delete email account" in the
instance's API reference, Settings -> Developer API -> Full API Reference, tag Sender Emails;
integrations.md 5.3 lists the find/update routes of the same resource). A 404 on the delete
(deleted in between) is False too. 429/5xx are retryable with Retry-After, 401 is not
(`apps.http.error`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

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
)
from mailfleet.models import MailboxType


def _secure(security: str | None) -> bool:
    return security in ("ssl", "starttls")


def sender_body(mailbox: MailboxCredential) -> dict[str, Any]:
    return {
        "name": f"{mailbox.first_name} {mailbox.last_name}".strip(),
        "email": mailbox.email,
        "password": mailbox.login_password,
        "imap_server": mailbox.imap_host,
        "imap_port": mailbox.imap_port,
        "smtp_server": mailbox.smtp_host,
        "smtp_port": mailbox.smtp_port,
        "smtp_secure": _secure(mailbox.smtp_security),
        "imap_secure": _secure(mailbox.imap_security),
    }


def _id_of(body: Any) -> str:
    data = body.get("data", body) if isinstance(body, dict) else None
    if not isinstance(data, dict) or "id" not in data:
        raise AppError("EmailBison answered without the sender email's id.")
    return str(data["id"])


class EmailBisonConnection:
    def __init__(self, base_url: str, api_key: str, timeout: float) -> None:
        self._http = http.client(
            base_url, timeout=timeout, headers={"Authorization": f"Bearer {api_key}"}
        )

    def check(self) -> Check:
        response = http.send(self._http, "GET", "api/sender-emails")
        if response.is_success:
            return Check(True, "The API key works.")
        return Check(False, http.message_of(response))

    def workspaces(self) -> list[RemoteWorkspace]:
        raise NoWorkspaces

    def push(self, mailbox: MailboxCredential, settings: ExportSettings) -> Pushed:
        found = http.send(self._http, "GET", f"api/sender-emails/{quote(mailbox.email, safe='@')}")
        limits = {"daily_limit": settings.daily_limit}
        if found.status_code == 404:
            created = http.json_of(
                http.send(
                    self._http, "POST", "api/sender-emails/imap-smtp", json=sender_body(mailbox)
                )
            )
            remote = _id_of(created)
            http.json_of(http.send(self._http, "PATCH", f"api/sender-emails/{remote}", json=limits))
            return Pushed("CREATED", remote)
        remote = _id_of(http.json_of(found))
        update = {**limits, "name": sender_body(mailbox)["name"]}
        http.json_of(http.send(self._http, "PATCH", f"api/sender-emails/{remote}", json=update))
        return Pushed("UPDATED", remote)

    def remove(self, email: str) -> bool:
        found = http.send(self._http, "GET", f"api/sender-emails/{quote(email, safe='@')}")
        if found.status_code == 404:
            return False
        remote = _id_of(http.json_of(found))
        response = http.send(self._http, "DELETE", f"api/sender-emails/{remote}")
        if response.status_code == 404:
            return False
        if response.is_error:
            raise http.error(response)
        return True

    def close(self) -> None:
        self._http.close()


class EmailBison:
    credential_sets = (frozenset({"api_key"}),)
    config_keys = frozenset({"workspace_id", "client_id", "client_id_app_name"})
    needs_instance_url = True

    def __init__(self, settings: Settings) -> None:
        self._timeout = settings.export_timeout

    def skip_reason(self, mailbox_type: MailboxType) -> str | None:
        return None

    def connect(self, account: AppAccount) -> EmailBisonConnection:
        if not account.instance_url:
            raise AppError("The EmailBison account has no instance_url.")
        return EmailBisonConnection(
            account.instance_url, account.credentials["api_key"], self._timeout
        )
