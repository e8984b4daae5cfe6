"""slot_counts, kept by triggers, always equals a count of the live mailboxes, whoever writes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, delete, func, select, text, update

from mailfleet import migrations
from mailfleet.db import Database
from mailfleet.kit import clock
from mailfleet.models import Domain, Mailbox, MailboxStatus, MailboxType, SlotCount, Workspace
from mailfleet.models.enums import DOMAIN_SLOT_STATUSES
from tests.conftest import base_settings
from tests.factories import give_slots, make_domain, make_mailbox, make_tenant, order_body

BEFORE_SLOT_COUNTS = "f1f884ef99ed"


def recount(db: Database) -> dict[tuple[str, MailboxType], int]:
    with db.transaction(write=False) as session:
        rows = session.execute(
            select(Mailbox.workspace_id, Mailbox.mailbox_type, func.count())
            .where(Mailbox.status.in_(DOMAIN_SLOT_STATUSES))
            .group_by(Mailbox.workspace_id, Mailbox.mailbox_type)
        )
        return {(str(ws), kind): count for ws, kind, count in rows}


def kept(db: Database) -> dict[tuple[str, MailboxType], int]:
    with db.transaction(write=False) as session:
        rows = session.execute(
            select(SlotCount.workspace_id, SlotCount.mailbox_type, SlotCount.live)
        )
        return {(str(ws), kind): live for ws, kind, live in rows if live}


def test_the_counts_follow_every_kind_of_write(db: Database, off: TestClient) -> None:
    owner, other = make_tenant(db), make_tenant(db)
    give_slots(db, owner.workspace_id, MailboxType.SMTP, 50)
    ordered = make_domain(db, owner.workspace_id)
    response = off.post(
        "/v1/mailbox-orders",
        json=order_body(ordered, ["a", "b", "c"], "SMTP"),
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    bare = make_domain(db, owner.workspace_id)
    first, *_ = [make_mailbox(db, bare, mailbox_type=MailboxType.GOOGLE) for _ in range(3)]
    make_mailbox(db, bare, status=MailboxStatus.FAILED, mailbox_type=MailboxType.GOOGLE)
    theirs = make_mailbox(db, make_domain(db, other.workspace_id))
    assert kept(db) == recount(db) != {}

    steps = [
        update(Mailbox).where(Mailbox.id == first).values(status=MailboxStatus.FAILED),
        update(Mailbox).where(Mailbox.id == first).values(status=MailboxStatus.PENDING),
        update(Mailbox).where(Mailbox.id == first).values(status=MailboxStatus.ACTIVE),
        update(Mailbox).where(Mailbox.id == first).values(mailbox_type=MailboxType.MICROSOFT),
        update(Mailbox).where(Mailbox.domain_id == ordered.id).values(status=MailboxStatus.REMOVED),
        update(Mailbox).where(Mailbox.id == theirs).values(workspace_id=owner.workspace_id),
        delete(Mailbox).where(Mailbox.id == first),
        delete(Domain).where(Domain.id == bare.id),  # its mailboxes go by cascade
        delete(Workspace).where(Workspace.id == other.workspace_id),
    ]
    for step in steps:
        with db.transaction() as session:
            session.execute(step)
        assert kept(db) == recount(db), step


def test_the_quota_counts_removed_mailboxes_until_their_renewal(
    db: Database, off: TestClient
) -> None:
    owner = make_tenant(db)
    give_slots(db, owner.workspace_id, MailboxType.GOOGLE, 3)
    domain = make_domain(db, owner.workspace_id)
    removed = [make_mailbox(db, domain) for _ in range(3)]
    with db.transaction() as session:
        session.execute(
            update(Mailbox).where(Mailbox.id.in_(removed)).values(status=MailboxStatus.REMOVED)
        )

    def google() -> object:
        return off.get("/v1/account", headers=owner.headers).json()["allocations"]["GOOGLE"]

    assert google() == {"allocated": 3, "used": 3, "remaining": 0}
    clock.advance(timedelta(days=31).total_seconds())  # past their renewal date
    assert google() == {"allocated": 3, "used": 0, "remaining": 3}


@pytest.fixture
def scratch(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Database]:
    """An empty database of the test's backend, for migrations to run on from the start."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'scratch.db'}"
    else:
        server = create_engine(
            request.getfixturevalue("postgres_url"), isolation_level="AUTOCOMMIT"
        )
        with server.connect() as connection:
            connection.execute(text("DROP DATABASE IF EXISTS scratch"))
            connection.execute(text("CREATE DATABASE scratch"))
        url = server.url.set(database="scratch").render_as_string(hide_password=False)
    database = Database(base_settings(tmp_path, url))
    yield database
    database.dispose()
    if backend == "postgresql":
        with server.connect() as connection:
            connection.execute(text("DROP DATABASE scratch"))
        server.dispose()


def test_the_migration_counts_the_mailboxes_already_there(scratch: Database) -> None:
    # The tenant and domain rows are made by today's models, so on today's schema; the
    # mailboxes, which the migration counts, on the schema before it.
    migrations.upgrade(scratch.engine)
    owner = make_tenant(scratch)
    domain = make_domain(scratch, owner.workspace_id)
    migrations.upgrade(scratch.engine, BEFORE_SLOT_COUNTS)
    for status in (MailboxStatus.ACTIVE, MailboxStatus.PENDING, MailboxStatus.FAILED):
        make_mailbox(scratch, domain, status=status)

    migrations.upgrade(scratch.engine)
    assert kept(scratch) == recount(scratch) == {(str(owner.workspace_id), MailboxType.GOOGLE): 2}

    migrations.upgrade(scratch.engine, BEFORE_SLOT_COUNTS)  # and back: triggers and table go
    make_mailbox(scratch, domain)
    migrations.upgrade(scratch.engine)
    assert kept(scratch) == recount(scratch)
    make_mailbox(scratch, domain)
    assert kept(scratch) == recount(scratch)
