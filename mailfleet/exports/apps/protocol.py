"""What an export job needs from a sequencer, whichever it is, in provider-neutral types."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from mailfleet.models import MailboxType


@dataclass(frozen=True)
class AppAccount:
    """A workspace's account at the app, decrypted for the length of one job or call."""

    credentials: Mapping[str, str]
    instance_url: str | None = None
    config: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MailboxCredential:
    """One mailbox as every app's account form needs it (integrations.md 5.7)."""

    email: str
    first_name: str
    last_name: str
    mailbox_type: MailboxType
    password: str
    smtp_host: str
    smtp_port: int
    imap_host: str
    imap_port: int
    smtp_security: str | None = None
    imap_security: str | None = None
    # Google and Microsoft mailboxes sign in over SMTP/IMAP with their app password.
    app_password: str | None = None

    @property
    def login_password(self) -> str:
        return self.app_password or self.password


@dataclass(frozen=True)
class ExportSettings:
    """Per-export settings; the defaults are what `schemas.ExportSettingsIn` documents."""

    daily_limit: int = 30
    warmup_enabled: bool = False
    warmup_limit: int = 10
    warmup_increment: int = 1
    warmup_reply_rate: int = 30
    sending_gap_minutes: int = 10
    tracking_domain: str | None = None


@dataclass(frozen=True)
class Pushed:
    """The app holds the mailbox: newly created, or updated in place (it had it already)."""

    outcome: Literal["CREATED", "UPDATED"]
    remote_id: str


@dataclass(frozen=True)
class Check:
    ok: bool
    message: str


@dataclass(frozen=True)
class RemoteWorkspace:
    id: str
    name: str


class AppError(Exception):
    """The app refused or failed a call; `message` is the app's own words.

    Retryable errors (429, 5xx, timeouts) are tried again after `retry_after` seconds when the
    app said so (Retry-After), else after the job's backoff step.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after


class NoWorkspaces(Exception):
    """The app has no sub-workspaces or clients to list."""


class RemovalNotSupported(Exception):
    """The app's API documents no way to delete an account: remove it in the app by hand."""


class Connection(Protocol):
    """An open client for one account; safe to share between a job's threads."""

    def check(self) -> Check: ...

    def workspaces(self) -> list[RemoteWorkspace]: ...

    def push(self, mailbox: MailboxCredential, settings: ExportSettings) -> Pushed: ...

    def remove(self, email: str) -> bool:
        """Delete the app's account for `email`: True when it was removed, False when the app
        held none. Raises AppError (retryable for 429/5xx, as push does) or RemovalNotSupported."""
        ...

    def close(self) -> None: ...


class Sequencer(Protocol):
    # Credential key sets the app accepts, any one of them (e.g. {"api_key"}).
    credential_sets: tuple[frozenset[str], ...]
    # Non-secret ids the account may carry (workspace_id, client_id).
    config_keys: frozenset[str]
    needs_instance_url: bool

    def skip_reason(self, mailbox_type: MailboxType) -> str | None:
        """Why the app cannot take mailboxes of this type over IMAP/SMTP, or None."""
        ...

    def connect(self, account: AppAccount) -> Connection: ...
