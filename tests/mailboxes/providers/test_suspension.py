"""Suspending and resuming a mailbox at its provider (MailboxProvider.suspend / resume).

Checked on every implementation with the conformance harness: `smtp` against the real
Postfix/Dovecot pair, `google` and `microsoft` against the fakes of their APIs. A suspended
mailbox keeps its account (and mail) but its password no longer logs in; resumed, the same
password works again. Both calls are idempotent, as the jobs that make them retry.
"""

from __future__ import annotations

import smtplib

import pytest

from mailfleet.mailboxes.providers.base import MailboxProviderError
from tests.mailboxes.providers import test_conformance as conformance
from tests.mailboxes.providers.test_conformance import PASSWORD, Harness, new
from tests.support.mailserver import MailServer

# The conformance module's fixtures: every provider, and a domain prepared on it.
harness = conformance.harness
domain = conformance.domain


def test_a_suspended_mailbox_cannot_log_in_until_resumed(harness: Harness, domain: str) -> None:
    address = f"sue@{domain}"
    harness.provider.create_mailbox(new(address))
    harness.eventually(lambda: harness.logs_in(address, PASSWORD), f"{address} logs in")

    harness.provider.suspend(address)
    harness.provider.suspend(address)  # a retried job: suspended already is success

    harness.eventually(lambda: not harness.logs_in(address, PASSWORD), f"{address} refused")
    assert harness.exists(address), "the account and its mail stay"

    harness.provider.resume(address)
    harness.provider.resume(address)

    harness.eventually(lambda: harness.logs_in(address, PASSWORD), f"{address} logs in again")


def test_suspending_a_missing_mailbox_is_done_resuming_it_is_permanent(
    harness: Harness, domain: str
) -> None:
    # Nobody can log in to an account that is not there: nothing left to suspend.
    harness.provider.suspend(f"never-made@{domain}")

    with pytest.raises(MailboxProviderError) as caught:
        harness.provider.resume(f"never-made@{domain}")

    assert not caught.value.retryable


def test_suspension_keeps_other_mailboxes_logging_in(harness: Harness, domain: str) -> None:
    kept, suspended = f"kim@{domain}", f"lee@{domain}"
    harness.provider.create_mailbox(new(kept))
    harness.provider.create_mailbox(new(suspended))

    harness.provider.suspend(suspended)

    harness.eventually(lambda: not harness.logs_in(suspended, PASSWORD), "suspended refused")
    assert harness.logs_in(kept, PASSWORD)


@pytest.mark.parametrize("harness", ["smtp"], indirect=True)
def test_smtp_auth_is_refused_too_and_mail_still_arrives(
    harness: Harness, domain: str, mail_server: MailServer
) -> None:
    # Postfix authenticates submission through Dovecot's SASL: the same passwd-file line.
    address = f"max@{domain}"
    harness.provider.create_mailbox(new(address))
    mail_server.wait_for_login(address, PASSWORD)

    harness.provider.suspend(address)
    mail_server.wait_for(lambda: not mail_server.login_works(address, PASSWORD), "IMAP refused")

    with pytest.raises(smtplib.SMTPAuthenticationError):
        mail_server.submission(address, PASSWORD)
    assert mail_server.accepts_recipient(address)

    harness.provider.resume(address)
    mail_server.wait_for_login(address, PASSWORD)
    mail_server.submission(address, PASSWORD).quit()
