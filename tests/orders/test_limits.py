"""Order rules 2, 4, 5, 6 and 7: domain limits, quota, Microsoft, 24 hours, one type."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.kit import clock
from mailfleet.models import (
    Mailbox,
    MailboxOrder,
    MailboxStatus,
    MailboxType,
)
from tests.factories import (
    count_rows,
    give_slots,
    make_domain,
    make_mailbox,
    order_body,
)
from tests.orders.helpers import DAY, ORDERS, assert_refused, tenant


@pytest.mark.parametrize(
    ("mailbox_type", "limit"),
    [
        (MailboxType.GOOGLE, 3),
        (MailboxType.MICROSOFT, 3),
        (MailboxType.SMTP, 5),
        (MailboxType.SMTP_DEDICATED, 10),
    ],
)
def test_domain_limit_by_type(
    db: Database, off: TestClient, mailbox_type: MailboxType, limit: int
) -> None:
    owner = tenant(db, mailbox_type)
    domain = make_domain(db, owner.workspace_id)
    names = [f"user{i}" for i in range(limit)]
    body = order_body(domain, names, mailbox_type.value)
    assert off.post(ORDERS, json=body, headers=owner.headers).status_code == 201
    if mailbox_type == MailboxType.MICROSOFT:
        with db.transaction() as session:  # settle them so the Microsoft rule stays out of it
            session.query(Mailbox).update({"status": MailboxStatus.ACTIVE})
    body = order_body(domain, ["onemore"], mailbox_type.value)
    response = off.post(ORDERS, json=body, headers=owner.headers)
    assert_refused(db, response, 409, "domain_mailbox_limit", "mailboxes")
    assert count_rows(db, Mailbox) == limit


def test_domain_limit_counts_the_whole_order(db: Database, off: TestClient) -> None:
    owner = tenant(db)
    domain = make_domain(db, owner.workspace_id)
    make_mailbox(db, domain, status=MailboxStatus.PENDING)
    response = off.post(ORDERS, json=order_body(domain, ["a", "b", "c"]), headers=owner.headers)
    assert_refused(db, response, 409, "domain_mailbox_limit")
    assert (
        off.post(ORDERS, json=order_body(domain, ["a", "b"]), headers=owner.headers).status_code
        == 201
    )


@pytest.mark.parametrize(
    "status",
    [
        MailboxStatus.PENDING,
        MailboxStatus.PROVISIONING,
        MailboxStatus.ACTIVE,
        MailboxStatus.SUSPENDED,
        MailboxStatus.REMOVAL_SCHEDULED,
    ],
)
def test_live_statuses_hold_a_domain_place(
    db: Database, off: TestClient, status: MailboxStatus
) -> None:
    owner = tenant(db)
    domain = make_domain(db, owner.workspace_id, mailbox_type=MailboxType.GOOGLE)
    for _ in range(3):
        make_mailbox(db, domain, status=status)
    response = off.post(ORDERS, json=order_body(domain, ["a"]), headers=owner.headers)
    assert_refused(db, response, 409, "domain_mailbox_limit")


@pytest.mark.parametrize("status", [MailboxStatus.FAILED, MailboxStatus.REMOVED])
def test_failed_and_removed_free_their_domain_place(
    db: Database, off: TestClient, status: MailboxStatus
) -> None:
    owner = tenant(db)
    domain = make_domain(db, owner.workspace_id, mailbox_type=MailboxType.GOOGLE)
    for _ in range(2):
        make_mailbox(db, domain)
    make_mailbox(db, domain, status=status)
    response = off.post(ORDERS, json=order_body(domain, ["a"]), headers=owner.headers)
    assert response.status_code == 201, response.text


def test_quota_exactly_met_is_accepted(db: Database, off: TestClient) -> None:
    owner = tenant(db, slots=3)
    first = make_domain(db, owner.workspace_id)
    second = make_domain(db, owner.workspace_id)
    assert (
        off.post(ORDERS, json=order_body(first, ["a", "b"]), headers=owner.headers).status_code
        == 201
    )
    response = off.post(ORDERS, json=order_body(second, ["c"]), headers=owner.headers)
    assert response.status_code == 201, response.text


def test_quota_one_over_is_refused(db: Database, off: TestClient) -> None:
    owner = tenant(db, slots=3)
    first = make_domain(db, owner.workspace_id)
    second = make_domain(db, owner.workspace_id)
    assert (
        off.post(ORDERS, json=order_body(first, ["a", "b"]), headers=owner.headers).status_code
        == 201
    )
    response = off.post(ORDERS, json=order_body(second, ["c", "d"]), headers=owner.headers)
    assert_refused(db, response, 409, "quota_exceeded", "mailboxes")
    assert count_rows(db, Mailbox) == 2
    assert count_rows(db, MailboxOrder) == 1


def test_no_allocation_means_no_slots(db: Database, off: TestClient) -> None:
    owner = tenant(db, MailboxType.GOOGLE)
    domain = make_domain(db, owner.workspace_id)
    response = off.post(ORDERS, json=order_body(domain, ["a"], "SMTP"), headers=owner.headers)
    assert_refused(db, response, 409, "quota_exceeded")
    assert count_rows(db, Mailbox) == 0


def test_quota_is_per_type(db: Database, off: TestClient) -> None:
    owner = tenant(db, MailboxType.SMTP, slots=1)
    google = make_domain(db, owner.workspace_id, mailbox_type=MailboxType.GOOGLE)
    make_mailbox(db, google)  # a Google mailbox does not use an SMTP slot
    smtp = make_domain(db, owner.workspace_id)
    response = off.post(ORDERS, json=order_body(smtp, ["a"], "SMTP"), headers=owner.headers)
    assert response.status_code == 201, response.text


def test_failed_mailbox_frees_its_quota_slot(db: Database, off: TestClient) -> None:
    owner = tenant(db, slots=1)
    make_mailbox(db, make_domain(db, owner.workspace_id), status=MailboxStatus.FAILED)
    domain = make_domain(db, owner.workspace_id)
    assert (
        off.post(ORDERS, json=order_body(domain, ["a"]), headers=owner.headers).status_code == 201
    )


def test_removed_mailbox_keeps_its_slot_until_renewal(db: Database, off: TestClient) -> None:
    owner = tenant(db, slots=1)
    first = make_domain(db, owner.workspace_id)
    box = off.post(ORDERS, json=order_body(first, ["a"]), headers=owner.headers).json()
    removed = off.delete(f"/v1/mailboxes/{box['mailboxes'][0]['id']}", headers=owner.headers)
    assert removed.json()["status"] == "REMOVED"
    second = make_domain(db, owner.workspace_id)
    response = off.post(ORDERS, json=order_body(second, ["b"]), headers=owner.headers)
    assert_refused(db, response, 409, "quota_exceeded")
    clock.advance(29 * DAY)
    response = off.post(ORDERS, json=order_body(second, ["b"]), headers=owner.headers)
    assert_refused(db, response, 409, "quota_exceeded")
    clock.advance(1 * DAY + 60)
    response = off.post(ORDERS, json=order_body(second, ["b"]), headers=owner.headers)
    assert response.status_code == 201, response.text


def test_scheduled_removal_keeps_its_slot(db: Database, off: TestClient) -> None:
    owner = tenant(db, slots=1)
    make_mailbox(db, make_domain(db, owner.workspace_id), status=MailboxStatus.REMOVAL_SCHEDULED)
    domain = make_domain(db, owner.workspace_id)
    response = off.post(ORDERS, json=order_body(domain, ["a"]), headers=owner.headers)
    assert_refused(db, response, 409, "quota_exceeded")


def test_recent_creation_seed_rule(db: Database, client: TestClient) -> None:
    owner = tenant(db)
    domain = make_domain(db, owner.workspace_id)
    assert (
        client.post(ORDERS, json=order_body(domain, ["a"]), headers=owner.headers).status_code
        == 201
    )
    clock.advance(23 * 3600)
    response = client.post(ORDERS, json=order_body(domain, ["b"]), headers=owner.headers)
    assert_refused(db, response, 409, "recent_mailbox_creation", "domain")
    assert count_rows(db, Mailbox) == 1
    clock.advance(3600 + 1)
    response = client.post(ORDERS, json=order_body(domain, ["b"]), headers=owner.headers)
    assert response.status_code == 201, response.text


def test_recent_creation_seed_rule_ignores_failed(db: Database, client: TestClient) -> None:
    owner = tenant(db)
    domain = make_domain(db, owner.workspace_id)
    make_mailbox(db, domain, status=MailboxStatus.FAILED)
    response = client.post(ORDERS, json=order_body(domain, ["b"]), headers=owner.headers)
    assert response.status_code == 201, response.text


def test_recent_creation_window_rule(db: Database, make_client: Callable[..., TestClient]) -> None:
    client = make_client(recent_creation_rule="window")
    owner = tenant(db, MailboxType.SMTP)
    domain = make_domain(db, owner.workspace_id)
    assert (
        client.post(
            ORDERS, json=order_body(domain, ["a"], "SMTP"), headers=owner.headers
        ).status_code
        == 201
    )
    clock.advance(23 * 3600)
    response = client.post(ORDERS, json=order_body(domain, ["b"], "SMTP"), headers=owner.headers)
    assert response.status_code == 201, response.text
    clock.advance(3600 + 1)
    response = client.post(ORDERS, json=order_body(domain, ["c"], "SMTP"), headers=owner.headers)
    assert_refused(db, response, 409, "recent_mailbox_creation")
    assert count_rows(db, Mailbox) == 2


def test_recent_creation_rule_off(db: Database, off: TestClient) -> None:
    owner = tenant(db)
    domain = make_domain(db, owner.workspace_id)
    assert (
        off.post(ORDERS, json=order_body(domain, ["a"]), headers=owner.headers).status_code == 201
    )
    response = off.post(ORDERS, json=order_body(domain, ["b"]), headers=owner.headers)
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("status", [MailboxStatus.PENDING, MailboxStatus.PROVISIONING])
def test_microsoft_waits_for_active(db: Database, off: TestClient, status: MailboxStatus) -> None:
    owner = tenant(db, MailboxType.MICROSOFT)
    domain = make_domain(db, owner.workspace_id, mailbox_type=MailboxType.MICROSOFT)
    make_mailbox(db, domain, status=status, mailbox_type=MailboxType.MICROSOFT)
    body = order_body(domain, ["b"], "MICROSOFT")
    response = off.post(ORDERS, json=body, headers=owner.headers)
    assert_refused(db, response, 409, "microsoft_mailboxes_not_active", "domain")
    assert count_rows(db, Mailbox) == 1


def test_microsoft_accepted_once_earlier_are_active(db: Database, off: TestClient) -> None:
    owner = tenant(db, MailboxType.MICROSOFT)
    domain = make_domain(db, owner.workspace_id, mailbox_type=MailboxType.MICROSOFT)
    make_mailbox(db, domain, mailbox_type=MailboxType.MICROSOFT)
    make_mailbox(db, domain, status=MailboxStatus.FAILED, mailbox_type=MailboxType.MICROSOFT)
    response = off.post(ORDERS, json=order_body(domain, ["b"], "MICROSOFT"), headers=owner.headers)
    assert response.status_code == 201, response.text


def test_microsoft_rule_can_be_switched_off(
    db: Database, make_client: Callable[..., TestClient]
) -> None:
    client = make_client(recent_creation_rule="off", microsoft_wait_for_active=False)
    owner = tenant(db, MailboxType.MICROSOFT)
    domain = make_domain(db, owner.workspace_id, mailbox_type=MailboxType.MICROSOFT)
    make_mailbox(db, domain, status=MailboxStatus.PENDING, mailbox_type=MailboxType.MICROSOFT)
    response = client.post(
        ORDERS, json=order_body(domain, ["b"], "MICROSOFT"), headers=owner.headers
    )
    assert response.status_code == 201, response.text


def test_type_fixed_at_submission(db: Database, off: TestClient) -> None:
    owner = tenant(db, MailboxType.MICROSOFT)
    domain = make_domain(db, owner.workspace_id, mailbox_type=MailboxType.GOOGLE)
    response = off.post(ORDERS, json=order_body(domain, ["a"], "MICROSOFT"), headers=owner.headers)
    assert_refused(db, response, 409, "domain_type_mismatch", "type")
    assert count_rows(db, Mailbox) == 0


def test_type_fixed_by_first_order(db: Database, off: TestClient) -> None:
    owner = tenant(db, MailboxType.GOOGLE)
    give_slots(db, owner.workspace_id, MailboxType.SMTP, 10)
    domain = make_domain(db, owner.workspace_id)
    assert (
        off.post(ORDERS, json=order_body(domain, ["a"]), headers=owner.headers).status_code == 201
    )
    response = off.post(ORDERS, json=order_body(domain, ["b"], "SMTP"), headers=owner.headers)
    assert_refused(db, response, 409, "domain_type_mismatch")
    assert count_rows(db, Mailbox) == 1
