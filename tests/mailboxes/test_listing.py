"""GET /v1/mailboxes renders rows straight to JSON: it must say what GET /v1/mailboxes/{id} says."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

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
