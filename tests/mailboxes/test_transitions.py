"""The mailbox transition table: every allowed move works and records its event; others are
refused with a declared 409; bulk moves take only rows still in the allowed source status."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from mailfleet.db import Database
from mailfleet.mailboxes import transitions
from mailfleet.mailboxes.transitions import MOVES, MailboxStatusConflict
from mailfleet.models import Event, Mailbox, MailboxOrder, MailboxStatus, OrderStatus
from tests.factories import make_domain, make_mailbox, make_order, make_tenant

ALLOWED = [(previous, status) for previous, targets in MOVES.items() for status in targets]
REFUSED = [
    (previous, status)
    for previous in MailboxStatus
    for status in MailboxStatus
    if status != previous and status not in MOVES[previous]
]


def _mailbox(db: Database, status: MailboxStatus) -> uuid.UUID:
    tenant = make_tenant(db)
    return make_mailbox(db, make_domain(db, tenant.workspace_id), status=status)


def _events(db: Database, mailbox_id: uuid.UUID) -> list[dict[str, object]]:
    with db.transaction(write=False) as session:
        rows = session.scalars(
            select(Event).where(Event.subject_id == mailbox_id).order_by(Event.id)
        ).all()
        return [{"type": e.type, **e.data} for e in rows]


@pytest.mark.parametrize(("previous", "status"), ALLOWED, ids=lambda s: str(s))
def test_every_allowed_move_works_and_records_its_event(
    db: Database, previous: MailboxStatus, status: MailboxStatus
) -> None:
    mailbox_id = _mailbox(db, previous)
    with db.transaction() as session:
        mailbox = session.get_one(Mailbox, mailbox_id)
        transitions.move(session, mailbox, status, actor="test", reason="because")
    with db.transaction(write=False) as session:
        mailbox = session.get_one(Mailbox, mailbox_id)
        assert mailbox.status == status
        if status == MailboxStatus.REMOVED:
            assert mailbox.removed_at is not None
        if status == MailboxStatus.FAILED:
            assert mailbox.failure_reason == "because"
        if status == MailboxStatus.REMOVAL_SCHEDULED:
            assert mailbox.remove_at_renewal
    assert _events(db, mailbox_id) == [
        {
            "type": "mailbox.status_changed",
            "previous": previous.value,
            "status": status.value,
            "reason": "because",
        }
    ]


@pytest.mark.parametrize(("previous", "status"), REFUSED, ids=lambda s: str(s))
def test_a_move_outside_the_table_is_refused(
    db: Database, previous: MailboxStatus, status: MailboxStatus
) -> None:
    mailbox_id = _mailbox(db, previous)
    with pytest.raises(MailboxStatusConflict) as refused, db.transaction() as session:
        transitions.move(session, session.get_one(Mailbox, mailbox_id), status, actor="test")
    assert (refused.value.status, refused.value.code) == (409, "mailbox_status_conflict")
    assert _events(db, mailbox_id) == []


def test_removed_is_final() -> None:
    assert MOVES[MailboxStatus.REMOVED] == frozenset()


def test_a_bulk_move_takes_only_rows_still_in_the_source_status(db: Database) -> None:
    tenant = make_tenant(db)
    domain = make_domain(db, tenant.workspace_id)
    waiting = make_mailbox(db, domain, status=MailboxStatus.PENDING)
    done = make_mailbox(db, domain, status=MailboxStatus.ACTIVE)
    with db.transaction() as session:
        moved = transitions.move_where(
            session,
            [waiting, done],
            MailboxStatus.PENDING,
            MailboxStatus.PROVISIONING,
            actor="test",
            reason="order started",
        )
    assert moved == [waiting]
    with db.transaction(write=False) as session:
        assert session.get_one(Mailbox, done).status == MailboxStatus.ACTIVE
        assert session.get_one(Mailbox, waiting).status == MailboxStatus.PROVISIONING
    assert [e["status"] for e in _events(db, waiting)] == ["PROVISIONING"]
    assert _events(db, done) == []


def test_a_bulk_move_against_the_table_is_refused(db: Database) -> None:
    mailbox_id = _mailbox(db, MailboxStatus.ACTIVE)
    with pytest.raises(MailboxStatusConflict), db.transaction() as session:
        transitions.move_where(
            session,
            [mailbox_id],
            MailboxStatus.ACTIVE,
            MailboxStatus.PENDING,
            actor="test",
            reason="no",
        )


def test_the_order_of_a_moved_mailbox_follows_it(db: Database) -> None:
    tenant = make_tenant(db)
    domain = make_domain(db, tenant.workspace_id)
    order_id = make_order(db, tenant.workspace_id, domain.id, status=OrderStatus.PENDING)
    mailbox_id = make_mailbox(db, domain, status=MailboxStatus.PENDING)
    with db.transaction() as session:
        mailbox = session.get_one(Mailbox, mailbox_id)
        mailbox.order_id = order_id
        session.flush()
        transitions.move(session, mailbox, MailboxStatus.FAILED, actor="test", reason="refused")
    with db.transaction(write=False) as session:
        assert session.get_one(MailboxOrder, order_id).status == OrderStatus.FAILED
        changed = session.scalars(
            select(Event).where(Event.subject_id == order_id, Event.type == "order.status_changed")
        ).all()
        assert [(e.data["previous"], e.data["status"]) for e in changed] == [("PENDING", "FAILED")]
