"""The domain transition table: every allowed move works and records its event; the others
are refused with a declared 409."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mailfleet.db import Database
from mailfleet.domains import lifecycle
from mailfleet.domains.lifecycle import MOVES, DomainStatusConflict
from mailfleet.models import Domain, DomainStatus, Event
from tests.factories import make_domain, make_tenant

ALLOWED = [(previous, status) for previous, targets in MOVES.items() for status in targets]
REFUSED = [
    (previous, status)
    for previous in DomainStatus
    for status in DomainStatus
    if status != previous and status not in MOVES[previous]
]


def _domain(db: Database, status: DomainStatus) -> Domain:
    return make_domain(db, make_tenant(db).workspace_id, status=status)


def _events(db: Database, domain: Domain) -> list[dict[str, object]]:
    with db.transaction(write=False) as session:
        rows = session.scalars(
            select(Event).where(Event.subject_id == domain.id).order_by(Event.id)
        ).all()
        return [{"type": e.type, **e.data} for e in rows]


@pytest.mark.parametrize(("previous", "status"), ALLOWED, ids=lambda s: str(s))
def test_every_allowed_move_works_and_records_its_event(
    db: Database, previous: DomainStatus, status: DomainStatus
) -> None:
    domain = _domain(db, previous)
    with db.transaction() as session:
        row = session.get_one(Domain, domain.id)
        lifecycle.move(session, row, status, actor="test", reason="because")
    with db.transaction(write=False) as session:
        row = session.get_one(Domain, domain.id)
        assert row.status == status
        if status == DomainStatus.ACTIVE:
            assert row.activated_at is not None
            assert row.failure_reason is None
        if status == DomainStatus.FAILED:
            assert row.failure_reason == "because"
            assert row.next_check_at is None
        if status == DomainStatus.REMOVED:
            assert row.removed_at is not None
            assert row.next_check_at is None
        if status == DomainStatus.PENDING_NS:
            assert row.pending_since is not None
    assert _events(db, domain) == [
        {
            "type": "domain.status_changed",
            "previous": previous.value,
            "status": status.value,
            "reason": "because",
        }
    ]


@pytest.mark.parametrize(("previous", "status"), REFUSED, ids=lambda s: str(s))
def test_a_move_outside_the_table_is_refused(
    db: Database, previous: DomainStatus, status: DomainStatus
) -> None:
    domain = _domain(db, previous)
    with pytest.raises(DomainStatusConflict) as refused, db.transaction() as session:
        lifecycle.move(session, session.get_one(Domain, domain.id), status, actor="test")
    assert (refused.value.status, refused.value.code) == (409, "domain_status_conflict")
    assert _events(db, domain) == []


def test_the_same_status_again_records_nothing(db: Database) -> None:
    domain = _domain(db, DomainStatus.FAILED)
    with db.transaction() as session:
        row = session.get_one(Domain, domain.id)
        lifecycle.move(session, row, DomainStatus.FAILED, actor="test", reason="still broken")
    with db.transaction(write=False) as session:
        assert session.get_one(Domain, domain.id).failure_reason == "still broken"
    assert _events(db, domain) == []


def test_a_bulk_move_records_one_event_per_row(db: Database) -> None:
    first, second = _domain(db, DomainStatus.PENDING_NS), _domain(db, DomainStatus.PENDING_NS)
    moves = [
        lifecycle.Move(d.id, d.workspace_id, DomainStatus.PENDING_NS, DomainStatus.ACTIVE)
        for d in (first, second)
    ]
    with db.transaction() as session:
        lifecycle.move_rows(session, moves, actor="test")
    for domain in (first, second):
        assert [e["status"] for e in _events(db, domain)] == ["ACTIVE"]


def test_a_bulk_move_against_the_table_is_refused(db: Database) -> None:
    domain = _domain(db, DomainStatus.REMOVED)
    move = lifecycle.Move(domain.id, domain.workspace_id, DomainStatus.REMOVED, DomainStatus.ACTIVE)
    with pytest.raises(DomainStatusConflict), db.transaction() as session:
        lifecycle.move_rows(session, [move], actor="test")
