"""Session fixture for a private Postfix + Dovecot pair, shared by every package.

`mail_server` is the harness (mailfleet/demo/mailserver.py): its ports, its files, clients and
polling helpers. `mail_overrides` (or `mail_settings(server)`) is the Settings keyword arguments
that make Mailfleet's "smtp" mailbox provider write that server's files, reload its Postfix and
hand out its ports: `make_settings(**mail_overrides)`. The server is shared by the session, so
each test uses its own domain names (`unique_domain`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from mailfleet.demo import mailserver
from mailfleet.demo.mailserver import MailServer
from tests.support.servers import unavailable


@pytest.fixture(scope="session")
def mail_server() -> Iterator[MailServer]:
    """Postfix (inbound and submission SMTP) and Dovecot (IMAP, LMTP, SASL) on loopback."""
    reason = mailserver.missing()
    if reason:
        unavailable(reason)
    server = MailServer().start()
    try:
        yield server
    finally:
        server.stop()


def mail_settings(server: MailServer) -> dict[str, Any]:
    """Settings keyword arguments wiring the SMTP mailbox types and provider to `server`."""
    return server.settings()


@pytest.fixture
def mail_overrides(mail_server: MailServer) -> dict[str, Any]:
    return mail_settings(mail_server)
