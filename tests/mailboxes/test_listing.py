"""GET /v1/mailboxes renders rows straight to JSON: it must say what GET /v1/mailboxes/{id} says."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from mailfleet.db import Database
from mailfleet.mailboxes.service import ListFilters
from mailfleet.models import Mailbox, MailboxOrder, MailboxStatus, MailboxType
from tests.factories import make_domain, make_mailbox, make_tenant


def test_a_listed_mailbox_reads_as_its_single_get(db: Database, off: TestClient) -> None:
    owner = make_tenant(db)
    domain = make_domain(db, owner.workspace_id)
    plain = make_mailbox(db, domain)
    odd = make_mailbox(db, domain, status=MailboxStatus.FAILED)
    with db.transaction() as session:
        order = MailboxOrder(
            workspace_id=owner.workspace_id, domain_id=domain.id, mailbox_type=MailboxType.GOOGLE
        )
        session.add(order)
        session.flush()
        mailbox = session.get_one(Mailbox, odd)
        mailbox.order_id = order.id
        mailbox.first_name = 'Zoë "Q" \\ 🎉'
        mailbox.failure_reason = "line\nbreak"
        mailbox.activated_at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)  # no fraction
        mailbox.remove_at_renewal = True
    listed = off.get("/v1/mailboxes", headers=owner.headers).json()["items"]
    assert {item["id"] for item in listed} == {str(odd), str(plain)}
    for item in listed:
        single = off.get(f"/v1/mailboxes/{item['id']}", headers=owner.headers).json()
        assert item == single
        assert list(item) == list(single)  # same keys in the same order


def test_statuses_filter_together(db: Database, off: TestClient) -> None:
    owner = make_tenant(db)
    domain = make_domain(db, owner.workspace_id)
    active = make_mailbox(db, domain)
    failed = make_mailbox(db, domain, status=MailboxStatus.FAILED)
    make_mailbox(db, domain, status=MailboxStatus.REMOVED)
    response = off.get("/v1/mailboxes?status=ACTIVE&status=FAILED", headers=owner.headers)
    assert {item["id"] for item in response.json()["items"]} == {str(failed), str(active)}


def test_a_cursor_this_api_never_issued_is_400(db: Database, off: TestClient) -> None:
    owner = make_tenant(db)
    response = off.get("/v1/mailboxes?cursor=%21%21", headers=owner.headers)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_cursor"


@pytest.mark.parametrize(
    ("filters", "bounded"),
    [
        (ListFilters(), True),
        (ListFilters(statuses=[MailboxStatus.ACTIVE]), True),
        (ListFilters(statuses=[MailboxStatus.ACTIVE, MailboxStatus.ACTIVE]), True),
        (ListFilters(text="  "), True),
        (ListFilters(statuses=[MailboxStatus.ACTIVE, MailboxStatus.FAILED]), False),
        (ListFilters(mailbox_type=MailboxType.SMTP), False),
        (ListFilters(domain_id=uuid.uuid4()), False),
        (ListFilters(text="bob"), False),
    ],
)
def test_only_an_index_walk_of_one_page_is_bounded(filters: ListFilters, bounded: bool) -> None:
    # A bounded page may run in the event loop on SQLite; anything that may scan must not.
    assert filters.bounded is bounded


def test_the_list_shows_every_change_at_once(db: Database, off: TestClient) -> None:
    # Pages are kept between requests (kit.pagecache): no change may be missed by the next one.
    owner = make_tenant(db)
    domain = make_domain(db, owner.workspace_id)
    mailbox = make_mailbox(db, domain)

    def names() -> list[str]:
        items = off.get("/v1/mailboxes", headers=owner.headers).json()["items"]
        return [item["first_name"] for item in items]

    assert names() == ["Test"]
    renamed = off.patch(
        f"/v1/mailboxes/{mailbox}", json={"first_name": "Renamed"}, headers=owner.headers
    )
    assert renamed.status_code == 200
    assert names() == ["Renamed"]
    with db.transaction() as session:  # as a job in the worker process would
        session.get_one(Mailbox, mailbox).first_name = "ByWorker"
    assert names() == ["ByWorker"]
    make_mailbox(db, domain)
    assert names() == ["Test", "ByWorker"]


def test_an_unchanged_page_is_served_again_without_a_query(db: Database, off: TestClient) -> None:
    owner = make_tenant(db)
    other = make_tenant(db)
    for caller in (owner, other):
        make_mailbox(db, make_domain(db, caller.workspace_id))
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    first = off.get("/v1/mailboxes?limit=10", headers=owner.headers)
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        again = off.get("/v1/mailboxes?limit=10", headers=owner.headers)
        cached = list(statements)
        others = off.get("/v1/mailboxes?limit=10", headers=other.headers)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert again.content == first.content
    assert others.json()["items"][0]["id"] != first.json()["items"][0]["id"]
    # Only SQLite can tell at no cost that nothing changed (kit.pagecache); PostgreSQL renders.
    rendered_again = any("FROM mailboxes" in s for s in cached)
    assert rendered_again is (db.engine.dialect.name == "postgresql")
    assert any("FROM mailboxes" in s for s in statements[len(cached) :])
