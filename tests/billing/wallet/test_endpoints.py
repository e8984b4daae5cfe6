"""The wallet API: balance, the ledger (filters, keyset pages, CSV), operators' adjustments,
and what a deployment without a payment provider answers."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from mailfleet.billing.wallet import service as wallet_service
from mailfleet.db import Database
from mailfleet.kit import clock
from mailfleet.models import LedgerKind, Payment, Role, WalletEntry
from tests.factories import Caller, make_member, make_tenant


def _operator(db: Database) -> Caller:
    return make_tenant(db, operator=True)


def _adjust(
    client: TestClient,
    operator: Caller,
    workspace_id: uuid.UUID,
    cents: int,
    reason: str = "bank transfer",
) -> dict:
    answer = client.post(
        f"/v1/operator/workspaces/{workspace_id}/wallet/adjustments",
        json={"amount_cents": cents, "reason": reason},
        headers=operator.headers,
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_a_workspace_without_a_wallet_shows_an_empty_one(db: Database, client: TestClient) -> None:
    tenant = make_tenant(db)
    answer = client.get("/v1/wallet", headers=tenant.headers)
    assert answer.status_code == 200
    assert answer.json() == {
        "balance_cents": 0,
        "currency": "USD",
        "auto_recharge": {"enabled": False, "threshold_cents": 2000, "amount_cents": 5000},
        "has_payment_method": False,
    }
    assert client.get("/v1/wallet/entries", headers=tenant.headers).json() == {
        "items": [],
        "next_cursor": None,
    }


def test_operators_adjust_with_a_reason(db: Database, client: TestClient) -> None:
    tenant = make_tenant(db)
    operator = _operator(db)
    entry = _adjust(client, operator, tenant.workspace_id, 5000, "wire 2026-03")
    assert entry["kind"] == "ADJUSTMENT"
    assert entry["amount_cents"] == 5000
    assert entry["balance_after_cents"] == 5000
    assert entry["reason"] == "wire 2026-03"
    assert entry["actor"] == f"user:{operator.user_id}"
    debit = _adjust(client, operator, tenant.workspace_id, -2000, "correction")
    assert debit["balance_after_cents"] == 3000
    wallet = client.get("/v1/wallet", headers=tenant.headers).json()
    assert wallet["balance_cents"] == 3000

    url = f"/v1/operator/workspaces/{tenant.workspace_id}/wallet/adjustments"
    for body, status in (
        ({"amount_cents": 100}, 422),
        ({"amount_cents": 100, "reason": "   "}, 422),
        ({"amount_cents": 0, "reason": "x"}, 422),
        ({"amount_cents": "100", "reason": "x"}, 422),
        ({"amount_cents": -3001, "reason": "x"}, 402),
    ):
        answer = client.post(url, json=body, headers=operator.headers)
        assert answer.status_code == status, (body, answer.text)
    short = client.post(url, json={"amount_cents": -3001, "reason": "x"}, headers=operator.headers)
    assert short.json()["code"] == "insufficient_funds"
    missing = client.post(
        f"/v1/operator/workspaces/{uuid.uuid4()}/wallet/adjustments",
        json={"amount_cents": 100, "reason": "x"},
        headers=operator.headers,
    )
    assert missing.status_code == 404
    refused = client.post(url, json={"amount_cents": 100, "reason": "x"}, headers=tenant.headers)
    assert refused.status_code == 403
    assert client.get("/v1/wallet", headers=tenant.headers).json()["balance_cents"] == 3000


def test_a_retried_adjustment_applies_once(db: Database, client: TestClient) -> None:
    tenant = make_tenant(db)
    operator = _operator(db)
    url = f"/v1/operator/workspaces/{tenant.workspace_id}/wallet/adjustments"
    headers = {**operator.headers, "Idempotency-Key": "wire-7"}
    body = {"amount_cents": 700, "reason": "wire 7"}
    first = client.post(url, json=body, headers=headers)
    second = client.post(url, json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert client.get("/v1/wallet", headers=tenant.headers).json()["balance_cents"] == 700


def _ledger(db: Database, workspace_id: uuid.UUID) -> None:
    """Ten entries of three kinds, an hour apart, with references."""
    with db.transaction() as session:
        wallet_service.credit(
            session,
            workspace_id,
            10_000,
            kind=LedgerKind.TOPUP,
            reason="=HYPERLINK(1)",
            actor="stripe",
            reference=wallet_service.Reference("payment", "p1"),
        )
    for index in range(6):
        clock.advance(3600)
        with db.transaction() as session:
            wallet_service.debit(
                session,
                workspace_id,
                100 + index,
                kind=LedgerKind.PURCHASE,
                reason=f"buy {index}",
                actor="test",
                reference=wallet_service.Reference("subscription", f"s{index % 2}"),
            )
    for _ in range(3):
        clock.advance(3600)
        with db.transaction() as session:
            wallet_service.adjust(session, workspace_id, 1, reason="fix", actor="op")


def test_the_ledger_filters_and_pages_newest_first(db: Database, client: TestClient) -> None:
    tenant = make_tenant(db)
    start = clock.now()
    _ledger(db, tenant.workspace_id)
    other = make_tenant(db)
    _ledger(db, other.workspace_id)
    seen: list[dict] = []
    cursor = None
    while True:
        params = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/wallet/entries", params=params, headers=tenant.headers).json()
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 10
    assert [e["created_at"] for e in seen] == sorted((e["created_at"] for e in seen), reverse=True)
    # Every entry carries the balance after it; the newest is the balance.
    assert (
        seen[0]["balance_after_cents"]
        == client.get("/v1/wallet", headers=tenant.headers).json()["balance_cents"]
    )

    def ids(**params: object) -> list[int]:
        answer = client.get("/v1/wallet/entries", params=params, headers=tenant.headers)
        assert answer.status_code == 200, answer.text
        return [e["amount_cents"] for e in answer.json()["items"]]

    assert ids(kind="TOPUP") == [10_000]
    assert ids(kind="ADJUSTMENT") == [1, 1, 1]
    assert ids(reference="subscription:s1") == [-105, -103, -101]
    assert len(ids(reference="subscription")) == 6
    assert ids(reference="payment:p1") == [10_000]
    window_start = (start + timedelta(hours=1, minutes=30)).isoformat()
    window_end = (start + timedelta(hours=3, minutes=30)).isoformat()
    assert ids(since=window_start, until=window_end) == [-102, -101]
    assert (
        client.get(
            "/v1/wallet/entries", params={"kind": "NOPE"}, headers=tenant.headers
        ).status_code
        == 422
    )
    assert (
        client.get(
            "/v1/wallet/entries", params={"cursor": "garbage!"}, headers=tenant.headers
        ).status_code
        == 400
    )


def test_the_ledger_exports_as_csv(db: Database, client: TestClient) -> None:
    tenant = make_tenant(db)
    _ledger(db, tenant.workspace_id)
    viewer = make_member(db, tenant, Role.VIEWER)
    answer = client.get("/v1/wallet/entries.csv", headers=viewer.headers)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows[0] == [
        "id",
        "created_at",
        "kind",
        "amount_cents",
        "balance_after_cents",
        "currency",
        "reason",
        "actor",
        "reference_type",
        "reference_id",
    ]
    body = rows[1:]
    assert len(body) == 10
    assert body[-1][2:8] == ["TOPUP", "10000", "10000", "USD", "'=HYPERLINK(1)", "stripe"]
    assert body[-1][8:] == ["payment", "p1"]
    listed = client.get("/v1/wallet/entries", params={"limit": 500}, headers=tenant.headers).json()
    assert [row[0] for row in body] == [e["id"] for e in listed["items"]]
    filtered = client.get(
        "/v1/wallet/entries.csv", params={"kind": "PURCHASE"}, headers=tenant.headers
    )
    assert len(list(csv.reader(io.StringIO(filtered.text)))) == 7
    with db.transaction(write=False) as session:
        assert session.scalar(select(func.count()).select_from(WalletEntry)) == 10


def test_without_a_payment_provider_customers_are_sent_to_the_operator(
    db: Database, client: TestClient
) -> None:
    tenant = make_tenant(db)
    top_up = client.post("/v1/wallet/top-ups", json={"amount_cents": 2500}, headers=tenant.headers)
    assert top_up.status_code == 409
    problem = top_up.json()
    assert problem["code"] == "payments_not_configured"
    assert "operator" in problem["detail"]
    enable = client.put("/v1/wallet/auto-recharge", json={"enabled": True}, headers=tenant.headers)
    assert enable.status_code == 409
    assert enable.json()["code"] == "payments_not_configured"
    off = client.put("/v1/wallet/auto-recharge", json={"enabled": False}, headers=tenant.headers)
    assert off.status_code == 200
    assert client.get("/v1/wallet/payment-methods", headers=tenant.headers).json() == {"items": []}
    with db.transaction(write=False) as session:
        assert session.scalar(select(func.count()).select_from(Payment)) == 0
