"""Connection requests on the native API: each connected domain on its way to ACTIVE, at the
step its lifecycle and last check say, filtered by step; removing the ones not connected yet,
all or nothing; nothing of another workspace."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from mailfleet.db import Database
from mailfleet.kit import clock
from mailfleet.models import Domain, DomainSource, DomainStatus, Role
from tests.factories import Caller, make_domain, make_member, make_tenant

REQUESTS = "/v1/connection-requests"
SEEN = ["ns1.elsewhere.example", "ns2.elsewhere.example"]


def set_fields(db: Database, domain_id: uuid.UUID, **values: Any) -> None:
    with db.transaction() as session:
        session.execute(update(Domain).where(Domain.id == domain_id).values(**values))


@pytest.fixture
def owner(db: Database) -> Caller:
    return make_tenant(db)


@pytest.fixture
def requests(db: Database, owner: Caller) -> dict[str, uuid.UUID]:
    """One connected domain per step, plus a bought one (never a connection request)."""
    found = {
        "queued": make_domain(db, owner.workspace_id, status=DomainStatus.QUEUED).id,
        "unchecked": make_domain(db, owner.workspace_id, status=DomainStatus.PENDING_NS).id,
        "checked": make_domain(db, owner.workspace_id, status=DomainStatus.PENDING_NS).id,
        "active": make_domain(db, owner.workspace_id).id,
        "failed": make_domain(db, owner.workspace_id, status=DomainStatus.FAILED).id,
        "bought": make_domain(db, owner.workspace_id, status=DomainStatus.PENDING_NS).id,
    }
    set_fields(
        db,
        found["checked"],
        last_checked_at=clock.now(),
        next_check_at=clock.now(),
        last_check_reason="The parent zone lists other nameservers.",
        delegation_report={"parents": [{"server": "a.gtld.test", "nameservers": SEEN}]},
    )
    set_fields(db, found["failed"], failure_reason="Not delegated within 7 days.")
    set_fields(db, found["bought"], source=DomainSource.PURCHASED)
    return found


def test_each_request_is_at_its_step_newest_first(
    client: TestClient, owner: Caller, requests: dict[str, uuid.UUID]
) -> None:
    answer = client.get(REQUESTS, headers=owner.headers)
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    by_id = {item["id"]: item for item in items}
    assert set(by_id) == {str(requests[k]) for k in ("queued", "unchecked", "checked", "failed")}
    assert [item["id"] for item in items] == sorted(by_id, reverse=True)
    steps = {name: by_id[str(requests[name])]["step"] for name in ("queued", "unchecked")}
    assert steps == {"queued": "PENDING", "unchecked": "CHECKING_NS"}
    checked = by_id[str(requests["checked"])]
    assert checked["step"] == "NS_NOT_CHANGED"
    assert checked["current_nameservers"] == SEEN
    assert checked["expected_nameservers"] == ["ns1.mailfleet.local", "ns2.mailfleet.local"]
    assert checked["last_check_reason"] == "The parent zone lists other nameservers."
    assert checked["next_retry_at"] is not None
    failed = by_id[str(requests["failed"])]
    assert (failed["step"], failed["failure_reason"]) == ("FAILED", "Not delegated within 7 days.")

    done = client.get(REQUESTS, params={"step": "SUCCESS"}, headers=owner.headers).json()
    assert [item["id"] for item in done["items"]] == [str(requests["active"])]
    waiting = client.get(REQUESTS, params={"step": "NS_NOT_CHANGED"}, headers=owner.headers)
    assert [item["id"] for item in waiting.json()["items"]] == [str(requests["checked"])]
    wrong = client.get(REQUESTS, params={"step": "SOMETHING"}, headers=owner.headers)
    assert wrong.status_code == 422


def test_removing_requests_is_all_or_nothing(
    client: TestClient, db: Database, owner: Caller, requests: dict[str, uuid.UUID]
) -> None:
    remove = f"{REQUESTS}/remove"
    refused = client.post(
        remove,
        json={"ids": [str(requests["queued"]), str(requests["active"])]},
        headers=owner.headers,
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "connection_completed"
    stranger = make_domain(db, make_tenant(db).workspace_id, status=DomainStatus.QUEUED)
    foreign = client.post(
        remove, json={"ids": [str(requests["queued"]), str(stranger.id)]}, headers=owner.headers
    )
    assert foreign.status_code == 404
    viewer = make_member(db, owner, Role.VIEWER)
    body = {"ids": [str(requests["queued"]), str(requests["checked"])]}
    assert client.post(remove, json=body, headers=viewer.headers).status_code == 403
    assert len(client.get(REQUESTS, headers=owner.headers).json()["items"]) == 4

    done = client.post(remove, json=body, headers=owner.headers)
    assert done.status_code == 200, done.text
    assert done.json() == {"removed": 2}
    left = {item["id"] for item in client.get(REQUESTS, headers=owner.headers).json()["items"]}
    assert left == {str(requests["unchecked"]), str(requests["failed"])}


def test_another_workspace_sees_none(
    client: TestClient, db: Database, requests: dict[str, uuid.UUID]
) -> None:
    other = make_tenant(db)
    assert client.get(REQUESTS, headers=other.headers).json()["items"] == []
