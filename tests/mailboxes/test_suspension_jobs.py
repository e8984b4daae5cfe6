"""The suspend and resume jobs and their sweeps (mailboxes.suspension, mailboxes.tasks): what
reaches the provider (the Google fake here; Postfix/Dovecot in tests/billing/renewals), what is
recorded, what is retried, and what the manual backend asks of an operator."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from mailfleet.billing.renewals.hooks import mailbox_side
from mailfleet.db import Database
from mailfleet.kit import clock
from mailfleet.mailboxes.providers.registry import MAILBOX_PROVIDERS
from mailfleet.models import Event, Mailbox, MailboxStatus, MailboxType
from tests.billing.renewals.test_renewals import tick
from tests.factories import Caller, give_slots, make_domain, make_mailbox, make_tenant
from tests.fakes.google import FakeGoogle
from tests.mailboxes.providers.test_conformance import Harness, google_harness, new

LEASE = 300


@pytest.fixture
def fake() -> Iterator[FakeGoogle]:
    with FakeGoogle() as running:
        yield running


@pytest.fixture
def google(fake: FakeGoogle) -> Harness:
    return google_harness(fake)


@pytest.fixture
def client(make_client: Callable[..., TestClient], fake: FakeGoogle) -> TestClient:
    return make_client(
        **fake.settings_overrides(), backend_google="google", job_lease_seconds=LEASE
    )


@pytest.fixture
def tenant(db: Database) -> Caller:
    return make_tenant(db)


def google_mailbox(
    db: Database, google: Harness, tenant: Caller, unique_domain: Callable[[str], str]
) -> Mailbox:
    """An ACTIVE google mailbox whose user exists in the fake Workspace."""
    domain = make_domain(
        db, tenant.workspace_id, name=unique_domain("gsus"), mailbox_type=MailboxType.GOOGLE
    )
    google.ready(domain.name)
    mailbox_id = make_mailbox(db, domain)
    with db.transaction() as session:
        mailbox = session.get_one(Mailbox, mailbox_id)
        mailbox.backend = "google"
        session.flush()
        session.expunge(mailbox)
    google.provider.create_mailbox(new(mailbox.address))
    return mailbox


def suspend(db: Database, *ids: uuid.UUID) -> None:
    """What an expiry does to the mailboxes it held (billing.renewals -> orders.renewals)."""
    with db.transaction() as session:
        mailbox_side().suspend(
            session,
            list(ids),
            until=clock.now() + timedelta(days=7),
            actor="test",
            reason="subscription expired",
        )


def reload(db: Database, mailbox_id: uuid.UUID) -> Mailbox:
    with db.transaction(write=False) as session:
        found = session.get_one(Mailbox, mailbox_id)
        session.expunge(found)
        return found


def events(db: Database, mailbox_id: uuid.UUID) -> list[Event]:
    with db.transaction(write=False) as session:
        found = list(
            session.scalars(
                select(Event).where(Event.subject_id == mailbox_id).order_by(Event.created_at)
            )
        )
        for event in found:
            session.expunge(event)
        return found


def types(db: Database, mailbox_id: uuid.UUID) -> list[str]:
    return [event.type for event in events(db, mailbox_id)]


def test_a_suspension_reaches_google_after_commit_and_is_recorded(
    client: TestClient,
    db: Database,
    fake: FakeGoogle,
    google: Harness,
    tenant: Caller,
    unique_domain: Callable[[str], str],
) -> None:
    box = google_mailbox(db, google, tenant, unique_domain)

    suspend(db, box.id)
    # Committed, the job not run yet: the provider side is pending, the user still logs in.
    assert reload(db, box.id).status == MailboxStatus.SUSPENDED
    assert reload(db, box.id).next_check_at is not None
    assert google.logs_in(box.address, "Correct-horse-42!batt")
    tick(client)

    user = fake.user(box.address)
    assert user is not None
    assert user["suspended"] is True
    assert user["suspensionReason"] == "ADMIN"
    assert reload(db, box.id).next_check_at is None
    assert "mailbox.provider_suspended" in types(db, box.id)
    # Run again (a duplicate job, a later sweep): nothing more is sent or recorded.
    tick(client, LEASE + 1)
    assert types(db, box.id).count("mailbox.provider_suspended") == 1


def test_slots_given_back_reactivate_and_resume_at_google(
    client: TestClient,
    db: Database,
    fake: FakeGoogle,
    google: Harness,
    tenant: Caller,
    unique_domain: Callable[[str], str],
) -> None:
    box = google_mailbox(db, google, tenant, unique_domain)
    suspend(db, box.id)
    tick(client)
    tick(client)
    assert reload(db, box.id).status == MailboxStatus.SUSPENDED, "no slots: stays suspended"

    give_slots(db, tenant.workspace_id, MailboxType.GOOGLE, 1)
    tick(client)

    assert reload(db, box.id).status == MailboxStatus.ACTIVE
    user = fake.user(box.address)
    assert user is not None
    assert user["suspended"] is False
    assert "suspensionReason" not in user
    changes = [e.data for e in events(db, box.id) if e.type == "mailbox.status_changed"]
    assert (changes[-1]["previous"], changes[-1]["status"]) == ("SUSPENDED", "ACTIVE")
    assert "mailbox.provider_resumed" in types(db, box.id)


def test_a_refusal_google_may_get_past_is_retried_by_the_sweep(
    client: TestClient,
    db: Database,
    fake: FakeGoogle,
    google: Harness,
    tenant: Caller,
    unique_domain: Callable[[str], str],
) -> None:
    box = google_mailbox(db, google, tenant, unique_domain)
    suspend(db, box.id)
    fake.fail_next(1, status=503)
    tick(client)

    user = fake.user(box.address)
    assert user is not None
    assert user["suspended"] is False
    assert reload(db, box.id).next_check_at is not None
    assert "mailbox.provider_suspended" not in types(db, box.id)

    tick(client, LEASE + 1)

    user = fake.user(box.address)
    assert user is not None
    assert user["suspended"] is True
    assert reload(db, box.id).next_check_at is None


def test_resuming_a_user_deleted_at_google_is_a_permanent_failure_on_record(
    client: TestClient,
    db: Database,
    fake: FakeGoogle,
    google: Harness,
    tenant: Caller,
    unique_domain: Callable[[str], str],
) -> None:
    box = google_mailbox(db, google, tenant, unique_domain)
    suspend(db, box.id)
    tick(client)
    google.provider.delete_mailbox(box.address)  # by an admin, in the Admin console

    give_slots(db, tenant.workspace_id, MailboxType.GOOGLE, 1)
    tick(client)
    tick(client, LEASE + 1)

    assert reload(db, box.id).next_check_at is None, "not retried: retrying cannot help"
    [failed] = [e for e in events(db, box.id) if e.type == "mailbox.provider_update_failed"]
    assert failed.data["action"] == "resume"
    assert box.address in failed.data["reason"]


def test_the_manual_backend_asks_an_operator_to_suspend_and_to_resume(
    client: TestClient, db: Database, tenant: Caller
) -> None:
    domain = make_domain(db, tenant.workspace_id, mailbox_type=MailboxType.GOOGLE)
    box_id = make_mailbox(db, domain)

    suspend(db, box_id)
    tick(client)

    assert reload(db, box_id).next_check_at is None, "no job: an operator does it"
    [asked] = [e for e in events(db, box_id) if e.type == "mailbox.suspend_requested"]
    assert asked.data["backend"] == "manual"
    assert asked.data["deprovision_at"] == reload(db, box_id).expires_at.isoformat()

    give_slots(db, tenant.workspace_id, MailboxType.GOOGLE, 1)
    tick(client)

    assert reload(db, box_id).status == MailboxStatus.ACTIVE
    assert "mailbox.resume_requested" in types(db, box_id)


class ProbingProvider:
    """A provider whose suspend and resume ask, while being called, whether the caller holds a
    write lock (SQLite) or the mailbox's row lock (PostgreSQL): the jobs must hold neither."""

    name = "google"

    def __init__(self, db: Database) -> None:
        self.db = db
        self.calls: list[tuple[str, str, bool]] = []

    def suspend(self, address: str) -> None:
        self.calls.append(("suspend", address, self._locked(address)))

    def resume(self, address: str) -> None:
        self.calls.append(("resume", address, self._locked(address)))

    def _locked(self, address: str) -> bool:
        engine = self.db.engine
        if engine.dialect.name == "sqlite":
            assert engine.url.database
            connection = sqlite3.connect(engine.url.database, timeout=0, isolation_level=None)
            try:
                connection.execute("BEGIN IMMEDIATE")
                connection.execute("ROLLBACK")
                return False
            except sqlite3.OperationalError:
                return True
            finally:
                connection.close()
        with engine.connect() as connection:
            try:
                connection.execute(
                    text("SELECT id FROM mailboxes WHERE address = :a FOR UPDATE NOWAIT"),
                    {"a": address},
                )
                return False
            except OperationalError:
                return True
            finally:
                connection.rollback()


def test_no_provider_call_runs_under_a_write_transaction_or_a_row_lock(
    client: TestClient,
    db: Database,
    tenant: Caller,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    probe = ProbingProvider(db)
    monkeypatch.setattr(MAILBOX_PROVIDERS, "build", lambda settings, name: probe)
    MAILBOX_PROVIDERS.clear()
    domain = make_domain(db, tenant.workspace_id, mailbox_type=MailboxType.GOOGLE)
    box_id = make_mailbox(db, domain)
    with db.transaction() as session:
        session.get_one(Mailbox, box_id).backend = "google"
    address = reload(db, box_id).address

    suspend(db, box_id)
    tick(client)
    give_slots(db, tenant.workspace_id, MailboxType.GOOGLE, 1)
    tick(client)

    assert probe.calls == [("suspend", address, False), ("resume", address, False)]
    MAILBOX_PROVIDERS.clear()
