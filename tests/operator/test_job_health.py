"""Job health: per kind of background work, what is under way, what is due, and how long the
oldest due item has waited; for operators only, on the API and in the console."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import update

from mailfleet.db import Database
from mailfleet.kit import clock
from mailfleet.models import Domain, DomainStatus
from tests.console.conftest import set_password, sign_in
from tests.factories import make_domain, make_tenant

KINDS = {
    "domains",
    "mailboxes",
    "exports",
    "webhook_deliveries",
    "domain_purchases",
    "domain_renewals",
    "quick_setups",
    "domain_swaps",
}


def domains_row(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    answer = client.get("/v1/operator/job-health", headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert {item["kind"] for item in body["items"]} == KINDS
    row: dict[str, Any] = next(item for item in body["items"] if item["kind"] == "domains")
    return row


def test_due_work_and_its_wait_are_counted(client: TestClient, db: Database) -> None:
    operator, customer = make_tenant(db, operator=True), make_tenant(db)
    before = domains_row(client, operator.headers)
    late = make_domain(db, customer.workspace_id, status=DomainStatus.QUEUED)
    later = make_domain(db, customer.workspace_id, status=DomainStatus.PENDING_NS)
    now = clock.now()
    with db.transaction() as session:
        session.execute(
            update(Domain)
            .where(Domain.id == late.id)
            .values(next_check_at=now - timedelta(hours=2))
        )
        session.execute(
            update(Domain)
            .where(Domain.id == later.id)
            .values(next_check_at=now + timedelta(hours=1))
        )
    after = domains_row(client, operator.headers)
    assert after["open"] == before["open"] + 2
    assert after["due"] == before["due"] + 1
    assert after["oldest_due_seconds"] >= 2 * 3600 - 5


def test_operators_only(client: TestClient, db: Database) -> None:
    customer = make_tenant(db)
    refused = client.get("/v1/operator/job-health", headers=customer.headers)
    assert refused.status_code == 403
    assert refused.json()["code"] == "operator_required"
    set_password(db, customer.user_id)
    sign_in(client, customer.email)
    assert client.get("/console/operator/health").status_code == 403


def test_the_console_page_shows_each_kind(client: TestClient, db: Database) -> None:
    operator = make_tenant(db, operator=True)
    set_password(db, operator.user_id)
    sign_in(client, operator.email)
    html = client.get("/console/operator/health").text
    for kind in KINDS:
        assert f'data-kind="{kind}"' in html
    assert 'href="/console/operator/health"' in html
