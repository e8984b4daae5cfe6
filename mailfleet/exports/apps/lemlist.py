"""lemlist (HTTP Basic: an empty user name and the API key as the password).

What was decided, and from where (integrations.md 5.4, developer.lemlist.com):
- `POST /user/email-accounts` connects an SMTP/IMAP account: `sender_name`, `sender_email`,
  `smtp_host`, `smtp_port`, `smtp_login`, `smtp_password`, `imap_host`, `imap_port`,
  `imap_login`, `imap_password`, optional `smtp_secure`/`imap_secure` ("use SSL/TLS": implicit
  TLS, so true for an `ssl` mailbox or port 465/993, false for STARTTLS). `userId` (the team
  member the account is for) is not sent: the account's config has no field for it, and
  lemlist then assigns the account to the key's creator. The answer is
  `{"id": "umx_...", "email", "provider"}`; the id is the mailbox's id at lemlist.
- lemlist refuses Gmail over SMTP/IMAP ("use OAuth instead"), so Google mailboxes are skipped
  with the reason before any call. Microsoft and custom SMTP mailboxes are sent.
- lemlist documents no way to list or update email accounts, so a mailbox it holds already (a
  re-export, or a job resumed after a crash) is recognised by its answer to the create: a 409,
  or an error that says the address "already exists"/"is already connected". That mailbox is
  UPDATED (present, left as it is; its id at lemlist is then its address), never added twice.
- The account test is `GET /team` (a cheap authenticated read). lemlist has no sub-workspaces
  in its API: the workspace list is "not supported", as for EmailBison.
- Rate limit: 20 requests per 2 seconds per key; a 429 carries Retry-After (honoured).
- Removal (a domain swap takes the burned addresses out) is not supported: lemlist documents
  `DELETE /user/email-accounts/{emailAccountId}` ("Disconnect Email Account",
  developer.lemlist.com; answers `{"ok": true}`), but by lemlist's id (`umx_...`) only, and its
  Email Accounts API (connect, test, disconnect) has no way to find that id from an address. No
  id is guessed: `remove` raises RemovalNotSupported; the account is disconnected in lemlist by
  hand.
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

GOOGLE_REFUSED = (
    "lemlist refuses Gmail/Google Workspace over SMTP/IMAP (OAuth only): connect this mailbox "
    "in lemlist with Google sign-in."
)
IMPLICIT_TLS_PORTS = frozenset({465, 993})
REMOVAL_NOT_SUPPORTED = (
    "lemlist's API disconnects an email account only by its lemlist id and has no way to find "
    "the id from an address: disconnect it in lemlist (Settings, Email accounts)."
)


def _secure(security: str | None, port: int) -> bool:
    if security is None:
        return port in IMPLICIT_TLS_PORTS
    return security == "ssl"


def account_body(mailbox: MailboxCredential) -> dict[str, Any]:
    login = mailbox.login_password
    return {
        "sender_name": f"{mailbox.first_name} {mailbox.last_name}".strip() or mailbox.email,
        "sender_email": mailbox.email,
        "smtp_host": mailbox.smtp_host,
        "smtp_port": mailbox.smtp_port,
        "smtp_login": mailbox.email,
        "smtp_password": login,
        "smtp_secure": _secure(mailbox.smtp_security, mailbox.smtp_port),
        "imap_host": mailbox.imap_host,
        "imap_port": mailbox.imap_port,
        "imap_login": mailbox.email,
        "imap_password": login,
        "imap_secure": _secure(mailbox.imap_security, mailbox.imap_port),
    }


def _exists(error: AppError) -> bool:
    text = error.message.lower()
    return error.status == 409 or (
        error.status is not None
        and 400 <= error.status < 500
        and ("already exists" in text or "already connected" in text)
    )


class LemlistConnection:
    def __init__(self, base_url: str, api_key: str, timeout: float) -> None:
        self._http = http.client(base_url, timeout=timeout, auth=("", api_key))

    def check(self) -> Check:
        response = http.send(self._http, "GET", "team")
        if response.is_success:
            return Check(True, "The API key works.")
        return Check(False, http.message_of(response))

    def workspaces(self) -> list[RemoteWorkspace]:
        raise NoWorkspaces

    def push(self, mailbox: MailboxCredential, settings: ExportSettings) -> Pushed:
        if mailbox.mailbox_type == MailboxType.GOOGLE:
            raise AppError(GOOGLE_REFUSED)  # skipped before the push; never sent
        body = account_body(mailbox)
        try:
            answer = http.json_of(http.send(self._http, "POST", "user/email-accounts", json=body))
        except AppError as exc:
            if not _exists(exc):
                raise
            return Pushed("UPDATED", mailbox.email)
        remote = answer.get("id") if isinstance(answer, dict) else None
        if not remote:
            raise AppError("lemlist connected the account but sent no id.")
        return Pushed("CREATED", str(remote))

    def remove(self, email: str) -> bool:
        raise RemovalNotSupported(REMOVAL_NOT_SUPPORTED)

    def close(self) -> None:
        self._http.close()


class Lemlist:
    credential_sets = (frozenset({"api_key"}),)
    config_keys: frozenset[str] = frozenset()
    needs_instance_url = False

    def __init__(self, settings: Settings) -> None:
        self._base_url = settings.export_lemlist_base_url
        self._timeout = settings.export_timeout

    def skip_reason(self, mailbox_type: MailboxType) -> str | None:
        return GOOGLE_REFUSED if mailbox_type == MailboxType.GOOGLE else None

    def connect(self, account: AppAccount) -> LemlistConnection:
        return LemlistConnection(self._base_url, account.credentials["api_key"], self._timeout)
