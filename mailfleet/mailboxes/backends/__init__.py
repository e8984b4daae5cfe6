"""Mailbox backends by name; `Settings.backend_for(type)` names the one a type uses."""

from __future__ import annotations

from mailfleet.exceptions import ServiceUnavailable
from mailfleet.mailboxes.backends.automated import AUTOMATED, AutomatedBackend
from mailfleet.mailboxes.backends.base import MailboxBackend
from mailfleet.mailboxes.backends.manual import ManualBackend

_BACKENDS: dict[str, MailboxBackend] = {
    "manual": ManualBackend(),
    **{name: AutomatedBackend(name) for name in AUTOMATED},
}


def register(backend: MailboxBackend) -> None:
    _BACKENDS[backend.name] = backend


def backend_for(name: str) -> MailboxBackend:
    try:
        return _BACKENDS[name]
    except KeyError:
        raise ServiceUnavailable(
            f"Mailbox backend {name!r} is not available.", code="backend_unavailable"
        ) from None


__all__ = ["AUTOMATED", "MailboxBackend", "backend_for", "register"]
