"""A `mailfleet worker` killed while provisioning mailboxes on Postfix/Dovecot loses nothing and
leaves nothing twice when restarted: one login per address, with the password Mailfleet stored.

The worker runs as a subprocess on the same database and SQLite job queue as the API, against
the session's real Postfix/Dovecot (tests/support/mailserver.py). It provisions in rounds of
CHUNK mailboxes, so that 100 mailboxes take several rounds and the kill lands between the first
ACTIVE mailboxes and the last. The kill usually catches a round in flight (files written or
being written, results not recorded): those mailboxes come back to the sweep when their lease
runs out and are provisioned again, which must leave the files as one provisioning would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from passlib.hash import sha512_crypt
from sqlalchemy import func, select

from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.kit.crypto import SecretBox
from mailfleet.mailboxes.providers.base import MailboxProviderError, NewMailbox
from mailfleet.mailboxes.providers.smtp import SmtpProvider
from mailfleet.models import Event, Mailbox, MailboxOrder, MailboxStatus, MailboxType, OrderStatus
from tests.conftest import TEST_KEY
from tests.factories import give_slots, make_domain, make_tenant, order_body
from tests.support.mail_fixtures import mail_settings
from tests.support.mailserver import MailServer

DOMAINS = 20
USERNAMES = ["ann", "bob", "cy", "dee", "eve"]
MAILBOXES = DOMAINS * len(USERNAMES)
# Mailboxes per round in the worker: ten rounds for the hundred, about 0.1 s each.
CHUNK = 10
KILL_AT = 20
PASSWORD = "Correct-horse-42!batt"


def _worker_env(db: Database, data_dir: Path, server: MailServer) -> dict[str, str]:
    mail = {f"MAILFLEET_{key.upper()}": str(value) for key, value in mail_settings(server).items()}
    return {
        **os.environ,
        **mail,
        "MAILFLEET_DATA_DIR": str(data_dir),
        "MAILFLEET_DATABASE_URL": db.engine.url.render_as_string(hide_password=False),
        "MAILFLEET_ENCRYPTION_KEYS": TEST_KEY,
        "MAILFLEET_JOB_QUEUE": "sqlite",
        "MAILFLEET_RECENT_CREATION_RULE": "off",
        # A lost job's mailboxes come back to the sweep after this lease.
        "MAILFLEET_JOB_LEASE_SECONDS": "3",
        "MAILFLEET_SWEEP_INTERVAL": "1",
        "MAILFLEET_MAILBOX_PROVISION_CHUNK": str(CHUNK),
        "MAILFLEET_LOG_LEVEL": "WARNING",
    }


def _wait(predicate: Callable[[], bool], timeout: float, what: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what()}")
        time.sleep(0.05)


def _statuses(db: Database, workspace_id: Any) -> Counter[MailboxStatus]:
    with db.transaction(write=False) as session:
        rows = session.execute(
            select(Mailbox.status, func.count())
            .where(Mailbox.workspace_id == workspace_id)
            .group_by(Mailbox.status)
        ).all()
    return Counter({status: count for status, count in rows})


def _describe(db: Database, workspace_id: Any) -> str:
    with db.transaction(write=False) as session:
        rows = session.execute(
            select(Mailbox.status, Mailbox.failure_reason, Mailbox.next_check_at, func.count())
            .where(Mailbox.workspace_id == workspace_id)
            .group_by(Mailbox.status, Mailbox.failure_reason, Mailbox.next_check_at)
        ).all()
    return "; ".join(
        f"{count} {status.value} {reason} {due}" for status, reason, due, count in rows
    )


def _passwd_lines(server: MailServer, domains: set[str]) -> list[tuple[str, str]]:
    """(address, password field) of every passwd-file line for these domains."""
    found = []
    for line in server.passwd_file.read_text().splitlines():
        address, _, rest = line.partition(":")
        if address.rpartition("@")[2] in domains:
            found.append((address, rest.partition(":")[0]))
    return found


def test_killed_worker_resumes_provisioning_without_duplicates(
    db: Database,
    make_client: Callable[..., TestClient],
    mail_server: MailServer,
    unique_domain: Callable[[str], str],
    start_worker: Callable[[dict[str, str]], subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    # The API enqueues into the SQLite job queue in tmp_path, which the worker process reads.
    client = make_client(
        **mail_settings(mail_server),
        recent_creation_rule="off",
        job_queue="sqlite",
        job_lease_seconds=3,
    )
    caller = make_tenant(db)
    domains = [
        make_domain(db, caller.workspace_id, name=unique_domain("kill")) for _ in range(DOMAINS)
    ]
    names = {domain.name for domain in domains}
    give_slots(db, caller.workspace_id, MailboxType.SMTP, MAILBOXES)
    for domain in domains:
        response = client.post(
            "/v1/mailbox-orders",
            json=order_body(domain, USERNAMES, "SMTP"),
            headers=caller.headers,
        )
        assert response.status_code == 201, response.text
    env = _worker_env(db, tmp_path, mail_server)

    first = start_worker(env)
    _wait(
        lambda: _statuses(db, caller.workspace_id)[MailboxStatus.ACTIVE] >= KILL_AT,
        60,
        lambda: f"the first ACTIVE mailboxes: {_describe(db, caller.workspace_id)}",
    )
    first.send_signal(signal.SIGKILL)
    first.wait()
    at_kill = _statuses(db, caller.workspace_id)
    assert at_kill[MailboxStatus.ACTIVE] < MAILBOXES, (
        f"killed too late to prove anything: {dict(at_kill)}"
    )

    start_worker(env)
    _wait(
        lambda: _statuses(db, caller.workspace_id)[MailboxStatus.ACTIVE] == MAILBOXES,
        120,
        lambda: (
            f"every mailbox ACTIVE (at the kill: {dict(at_kill)}): "
            f"{_describe(db, caller.workspace_id)}"
        ),
    )

    box = SecretBox.from_settings(client.app.state.settings)  # type: ignore[attr-defined]
    with db.transaction(write=False) as session:
        passwords = {
            address: box.decrypt(password_enc or "")
            for address, password_enc in session.execute(
                select(Mailbox.address, Mailbox.password_enc).where(
                    Mailbox.workspace_id == caller.workspace_id
                )
            )
        }
        activations = session.execute(
            select(Event.subject_id, func.count())
            .where(
                Event.workspace_id == caller.workspace_id,
                Event.type == "mailbox.status_changed",
                Event.data["status"].as_string() == "ACTIVE",
            )
            .group_by(Event.subject_id)
        ).all()
        orders = set(
            session.scalars(
                select(MailboxOrder.status).where(MailboxOrder.workspace_id == caller.workspace_id)
            )
        )
    assert len(passwords) == MAILBOXES
    # Recorded ACTIVE exactly once each, whatever the kill interrupted.
    assert len(activations) == MAILBOXES
    assert {count for _, count in activations} == {1}
    assert orders == {OrderStatus.COMPLETED}

    # One passwd-file line per address and nothing else for these domains; each line holds a
    # hash of the password Mailfleet stored (and hands out with the credentials).
    lines = _passwd_lines(mail_server, names)
    assert len(lines) == MAILBOXES
    assert {address for address, _ in lines} == set(passwords)
    for address, field in lines:
        assert field.startswith("{SHA512-CRYPT}"), address
        assert sha512_crypt.verify(passwords[address], field.removeprefix("{SHA512-CRYPT}"))
    mailbox_map = mail_server.virtual_mailbox_maps.read_text().split()
    assert Counter(key for key in mailbox_map if key in passwords) == dict.fromkeys(passwords, 1)
    domain_map = mail_server.virtual_mailbox_domains.read_text().split()
    assert Counter(key for key in domain_map if key in names) == dict.fromkeys(names, 1)
    for address in sorted(passwords)[:: MAILBOXES // 5]:
        mail_server.wait_for_login(address, passwords[address])
    mail_server.wait_for_recipient(sorted(passwords)[-1])


def test_a_round_repeated_after_a_crash_changes_nothing(
    mail_overrides: dict[str, Any], mail_server: MailServer, unique_domain: Callable[[str], str]
) -> None:
    """The provider's half of the restart: a round run again, whole or after a part of it got
    through, leaves one entry per address with the password given, salts and all unchanged."""
    provider = SmtpProvider(Settings(**mail_overrides))
    domain = unique_domain("again")
    chunk = [
        NewMailbox(f"user{number}@{domain}", "Ada", "Lovelace", f"{PASSWORD}{number}")
        for number in range(6)
    ]
    # A crash after the first half was written; the job then repeats the whole chunk.
    provider.create_mailboxes(chunk[:3])
    first = provider.create_mailboxes(chunk)
    after_first = mail_server.passwd_file.read_text()
    again = provider.create_mailboxes([*chunk, NewMailbox("not an address", "A", "B", "x")])

    assert again[:6] == first
    assert isinstance(again[6], MailboxProviderError)
    assert again[6].retryable is False
    assert mail_server.passwd_file.read_text() == after_first
    lines = _passwd_lines(mail_server, {domain})
    assert sorted(address for address, _ in lines) == sorted(m.address for m in chunk)
    for mailbox in chunk[::2]:
        mail_server.wait_for_login(mailbox.address, mailbox.password)
