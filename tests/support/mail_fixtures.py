"""Session fixture for a private Postfix + Dovecot pair, shared by every package.

`mail_server` is the harness (tests/support/mailserver.py): its ports, its files, clients and
polling helpers. `mail_overrides` (or `mail_settings(server)`) is the Settings keyword arguments
that make Mailfleet's "smtp" mailbox provider write that server's files, reload its Postfix and
hand out its ports: `make_settings(**mail_overrides)`. The server is shared by the session, so
each test uses its own domain names (`unique_domain`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import mailserver
from tests.support.mailserver import HOST, MailServer
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
    return {
        "backend_smtp": "smtp",
        "backend_smtp_dedicated": "smtp",
        "mail_passwd_file": server.passwd_file,
        "postfix_virtual_mailbox_domains": server.virtual_mailbox_domains,
        "postfix_virtual_mailbox_maps": server.virtual_mailbox_maps,
        "postfix_virtual_alias_maps": server.virtual_alias_maps,
        "postfix_config_dir": str(server.postfix_dir),
        "smtp_server_host": HOST,
        "smtp_submission_port": server.submission_port,
        # Loopback without TLS: what a client must speak to this test server.
        "smtp_security": "none",
        "imap_server_host": HOST,
        "imap_port": server.imap_port,
        "imap_security": "none",
    }


@pytest.fixture
def mail_overrides(mail_server: MailServer) -> dict[str, Any]:
    return mail_settings(mail_server)
