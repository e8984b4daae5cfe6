"""Domain swaps through the native API, the provider's part played by the test (a new
mailbox is marked made or failed as provisioning would leave it): what is refused up front and
changes nothing, what a failed new mailbox keeps, and what another workspace cannot see."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from mailfleet.db import Database
from mailfleet.jobs.worker import sweep
from mailfleet.kit import clock
from mailfleet.models import (
    Domain,
    DomainStatus,
    DomainSwap,
    Mailbox,
    MailboxStatus,
    MailboxType,
    Role,
)
from tests.factories import Caller, give_slots, make_domain, make_member, make_tenant, order_body
from tests.support.jobs import drain

SWAPS = "/v1/domain-swaps"
# A body the picture check takes as PNG (it reads the signature).
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
USERS = ["ann", "bob", "cy"]


@pytest.fixture
def api(make_client: Any) -> TestClient:
    client: TestClient = make_client(recent_creation_rule="off")
    return client


def runtime(api: TestClient) -> Any:
    return api.app.state.runtime  # type: ignore[attr-defined]


def with_mailboxes(db: Database, api: TestClient, caller: Caller, users: list[str]) -> Domain:
    """An ACTIVE SMTP domain whose mailboxes are made (ACTIVE), in slots the caller gave."""
    domain = make_domain(db, caller.workspace_id, mailbox_type=MailboxType.SMTP)
    order = api.post(
        "/v1/mailbox-orders", json=order_body(domain, users, "SMTP"), headers=caller.headers
    )
    assert order.status_code == 201, order.text
    drain(runtime(api))
    made(db, [uuid.UUID(m["id"]) for m in order.json()["mailboxes"]])
    return domain


def made(db: Database, ids: list[uuid.UUID], status: MailboxStatus = MailboxStatus.ACTIVE) -> None:
    """What provisioning leaves: the mailboxes made (or failed, with the provider's words)."""
    reason = "The provider refused the address." if status == MailboxStatus.FAILED else None
    with db.transaction() as session:
        session.execute(
            update(Mailbox)
            .where(Mailbox.id.in_(ids))
            .values(status=status, failure_reason=reason, activated_at=clock.now())
        )


def mailboxes_of(db: Database, domain_id: uuid.UUID) -> list[Mailbox]:
    with db.transaction(write=False) as session:
        rows = list(session.scalars(select(Mailbox).where(Mailbox.domain_id == domain_id)))
        session.expunge_all()
        return rows


def swaps_of(db: Database, workspace_id: uuid.UUID) -> int:
    with db.transaction(write=False) as session:
        query = select(func.count()).where(DomainSwap.workspace_id == workspace_id)
        return int(session.scalar(query) or 0)


def statuses(db: Database, domain_id: uuid.UUID) -> dict[str, MailboxStatus]:
    with db.transaction(write=False) as session:
        rows = session.execute(
            select(Mailbox.username, Mailbox.status).where(Mailbox.domain_id == domain_id)
        )
        return {username: status for username, status in rows}


def advance(api: TestClient) -> None:
    """Let the swap's timer come due and run what it starts."""
    clock.advance(60)
    sweep(runtime(api))
    drain(runtime(api))


def test_the_new_mailbox_that_fails_keeps_its_old_one(db: Database, api: TestClient) -> None:
    owner = make_tenant(db)
    give_slots(db, owner.workspace_id, MailboxType.SMTP, len(USERS))  # all held by the old
    old = with_mailboxes(db, api, owner, USERS)
    ann_old = next(m for m in mailboxes_of(db, old.id) if m.username == "ann")
    pictured = api.put(
        f"/v1/mailboxes/{ann_old.id}/picture",
        content=PNG,
        headers={**owner.headers, "Content-Type": "image/png"},
    )
    assert pictured.status_code == 200, pictured.text
    new = make_domain(db, owner.workspace_id)
    answer = api.post(
        SWAPS,
        json={"from_domain_id": str(old.id), "to_domain_id": str(new.id)},
        headers=owner.headers,
    )
    assert answer.status_code == 201, answer.text
    swap_id = answer.json()["id"]
    drain(runtime(api))  # B is ACTIVE already: ordered at once, in the old ones' slots
    placed = api.get(f"{SWAPS}/{swap_id}", headers=owner.headers).json()
    assert placed["status"] == "WAITING_FOR_MAILBOXES"
    assert {m["status"] for m in placed["mailboxes"]} == {"ORDERED"}
    by_user = {m["username"]: uuid.UUID(m["new_mailbox_id"]) for m in placed["mailboxes"]}
    made(db, [by_user["ann"], by_user["bob"]])
    made(db, [by_user["cy"]], MailboxStatus.FAILED)

    advance(api)
    done = api.get(f"{SWAPS}/{swap_id}", headers=owner.headers).json()
    assert done["status"] == "DONE"
    outcome = {m["username"]: (m["status"], m["reason"]) for m in done["mailboxes"]}
    assert outcome == {
        "ann": ("SWAPPED", None),
        "bob": ("SWAPPED", None),
        "cy": ("FAILED", "The provider refused the address."),
    }
    assert statuses(db, old.id) == {
        "ann": MailboxStatus.REMOVED,
        "bob": MailboxStatus.REMOVED,
        "cy": MailboxStatus.ACTIVE,
    }
    # Ann's picture moved with her; Bob had none.
    pictures = {
        m["username"]: api.get(
            f"/v1/mailboxes/{m['new_mailbox_id']}/picture", headers=owner.headers
        )
        for m in done["mailboxes"]
        if m["username"] in ("ann", "bob")
    }
    assert pictures["ann"].status_code == 200
    assert pictures["ann"].content == PNG
    assert pictures["bob"].status_code == 404
    # Two slots moved to the new domain; cy's failed new one holds none; nothing is double held.
    account = api.get("/v1/account", headers=owner.headers).json()
    assert account["allocations"]["SMTP"]["used"] == 3
    assert done["completed_at"] is not None
    listed = api.get(SWAPS, params={"domain_id": str(new.id)}, headers=owner.headers).json()
    assert [s["id"] for s in listed["items"]] == [swap_id]
    assert api.get(SWAPS, params={"status": "FAILED"}, headers=owner.headers).json()["items"] == []


def test_a_new_domain_that_fails_fails_the_swap_and_leaves_the_old_one(
    db: Database, api: TestClient
) -> None:
    owner = make_tenant(db)
    give_slots(db, owner.workspace_id, MailboxType.SMTP, len(USERS))  # all held by the old
    old = with_mailboxes(db, api, owner, USERS)
    new = make_domain(db, owner.workspace_id, status=DomainStatus.PENDING_NS)
    body = {"from_domain_id": str(old.id), "to_domain_id": str(new.id)}
    swap_id = api.post(SWAPS, json=body, headers=owner.headers).json()["id"]
    drain(runtime(api))
    waiting = api.get(f"{SWAPS}/{swap_id}", headers=owner.headers).json()
    assert waiting["status"] == "WAITING_FOR_DOMAIN"
    with db.transaction() as session:
        session.execute(update(Domain).where(Domain.id == new.id).values(status="FAILED"))

    advance(api)
    failed = api.get(f"{SWAPS}/{swap_id}", headers=owner.headers).json()
    assert failed["status"] == "FAILED"
    assert "FAILED" in failed["failure_reason"]
    assert set(statuses(db, old.id).values()) == {MailboxStatus.ACTIVE}
    assert statuses(db, new.id) == {}
    # The old domain is free for another swap.
    other = make_domain(db, owner.workspace_id)
    again = api.post(
        SWAPS,
        json={"from_domain_id": str(old.id), "to_domain_id": str(other.id)},
        headers=owner.headers,
    )
    assert again.status_code == 201, again.text


def test_connecting_the_new_name_in_the_same_call(db: Database, api: TestClient) -> None:
    owner = make_tenant(db)
    give_slots(db, owner.workspace_id, MailboxType.SMTP, len(USERS))  # all held by the old
    old = with_mailboxes(db, api, owner, USERS)
    answer = api.post(
        SWAPS,
        json={"from_domain_id": str(old.id), "to_domain": "Fresh-Start.com"},
        headers=owner.headers,
    )
    assert answer.status_code == 201, answer.text
    with db.transaction(write=False) as session:
        new = session.get_one(Domain, uuid.UUID(answer.json()["to_domain_id"]))
        assert (new.name, new.status, new.mailbox_type) == (
            "fresh-start.com",
            DomainStatus.QUEUED,
            MailboxType.SMTP,
        )


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 422, "validation_error"),
        ({"to_domain_id": "NEW", "to_domain": "both.com"}, 422, "validation_error"),
        ({"to_domain_id": "OLD"}, 422, "swap_same_domain"),
        ({"to_domain_id": "FULL"}, 409, "swap_target_has_mailboxes"),
        ({"to_domain_id": "GOOGLE"}, 409, "swap_type_mismatch"),
        ({"to_domain_id": "REMOVED"}, 409, "swap_target_unusable"),
        ({"to_domain_id": "FOREIGN"}, 404, "domain_not_found"),
        ({"to_domain": "not a domain"}, 422, "swap_target_refused"),
        ({"to_domain": "FOREIGN_NAME"}, 422, "swap_target_refused"),
        ({"from_domain_id": "EMPTY", "to_domain_id": "NEW"}, 409, "nothing_to_swap"),
        ({"from_domain_id": "FOREIGN", "to_domain_id": "NEW"}, 404, "domain_not_found"),
    ],
)
def test_a_refused_swap_says_why_and_records_nothing(
    db: Database, api: TestClient, body: dict[str, str], status: int, code: str
) -> None:
    owner, stranger = make_tenant(db), make_tenant(db)
    give_slots(db, owner.workspace_id, MailboxType.SMTP, 2)
    old = with_mailboxes(db, api, owner, ["ann"])
    full = with_mailboxes(db, api, owner, ["zed"])
    foreign = make_domain(db, stranger.workspace_id)
    ids = {
        "OLD": old.id,
        "NEW": make_domain(db, owner.workspace_id).id,
        "FULL": full.id,
        "GOOGLE": make_domain(db, owner.workspace_id, mailbox_type=MailboxType.GOOGLE).id,
        "REMOVED": make_domain(db, owner.workspace_id, status=DomainStatus.REMOVED).id,
        "FOREIGN": foreign.id,
        "EMPTY": make_domain(db, owner.workspace_id).id,
    }
    sent = {"from_domain_id": str(old.id)}
    for key, value in body.items():
        sent[key] = str(ids[value]) if value in ids else value
    if sent.get("to_domain") == "FOREIGN_NAME":
        sent["to_domain"] = foreign.name
    answer = api.post(SWAPS, json=sent, headers=owner.headers)
    assert answer.status_code == status, answer.text
    assert answer.json()["code"] == code
    assert swaps_of(db, owner.workspace_id) == 0
    with db.transaction(write=False) as session:
        domains = session.scalar(
            select(func.count()).where(Domain.workspace_id == owner.workspace_id)
        )
    assert domains == 6  # nothing connected by a refused call


def test_one_swap_at_a_time_per_domain_and_only_editors(db: Database, api: TestClient) -> None:
    owner = make_tenant(db)
    give_slots(db, owner.workspace_id, MailboxType.SMTP, len(USERS))  # all held by the old
    old = with_mailboxes(db, api, owner, USERS)
    first, second = make_domain(db, owner.workspace_id), make_domain(db, owner.workspace_id)
    viewer = make_member(db, owner, Role.VIEWER)
    body = {"from_domain_id": str(old.id), "to_domain_id": str(first.id)}
    refused = api.post(SWAPS, json=body, headers=viewer.headers)
    assert refused.status_code == 403
    assert api.post(SWAPS, json=body, headers=owner.headers).status_code == 201
    again = api.post(SWAPS, json={**body, "to_domain_id": str(second.id)}, headers=owner.headers)
    assert again.status_code == 409
    assert again.json()["code"] == "domain_swap_in_progress"
    assert swaps_of(db, owner.workspace_id) == 1


def test_another_workspace_sees_no_swap(db: Database, api: TestClient) -> None:
    owner, stranger = make_tenant(db), make_tenant(db)
    give_slots(db, owner.workspace_id, MailboxType.SMTP, 1)
    old = with_mailboxes(db, api, owner, ["ann"])
    new = make_domain(db, owner.workspace_id)
    body = {"from_domain_id": str(old.id), "to_domain_id": str(new.id)}
    swap_id = api.post(SWAPS, json=body, headers=owner.headers).json()["id"]
    answer = api.get(f"{SWAPS}/{swap_id}", headers=stranger.headers)
    assert answer.status_code == 404
    assert answer.json()["code"] == "domain_swap_not_found"
    assert api.get(SWAPS, headers=stranger.headers).json()["items"] == []
    theirs = api.post(SWAPS, json=body, headers=stranger.headers)
    assert theirs.status_code == 404
    assert swaps_of(db, stranger.workspace_id) == 0
