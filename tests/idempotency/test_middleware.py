from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from mailfleet.db import Database
from mailfleet.models import Domain, DomainBatch
from tests.factories import make_tenant


def _count(db: Database, model: type) -> int:
    with db.transaction(write=False) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_replay_returns_first_response_and_creates_nothing(
    db: Database, client: TestClient
) -> None:
    owner = make_tenant(db)
    headers = {**owner.headers, "Idempotency-Key": "submit-1"}
    first = client.post("/v1/domains", json={"domains": ["alpha.com", "beta.com"]}, headers=headers)
    second = client.post(
        "/v1/domains", json={"domains": ["alpha.com", "beta.com"]}, headers=headers
    )
    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    assert second.headers["idempotency-replayed"] == "true"
    assert _count(db, DomainBatch) == 1
    assert _count(db, Domain) == 2


def test_same_key_with_different_body_is_refused(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    headers = {**owner.headers, "Idempotency-Key": "submit-2"}
    client.post("/v1/domains", json={"domains": ["alpha.com"]}, headers=headers)
    response = client.post("/v1/domains", json={"domains": ["gamma.com"]}, headers=headers)
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert _count(db, Domain) == 1


def test_keys_are_scoped_per_api_key(db: Database, client: TestClient) -> None:
    first, second = make_tenant(db), make_tenant(db)
    body = {"domains": ["one.com"]}
    client.post("/v1/domains", json=body, headers={**first.headers, "Idempotency-Key": "k"})
    response = client.post(
        "/v1/domains",
        json={"domains": ["two.com"]},
        headers={**second.headers, "Idempotency-Key": "k"},
    )
    assert response.status_code == 201
    assert "idempotency-replayed" not in response.headers
    assert _count(db, Domain) == 2


def test_a_refused_request_is_replayed_as_refused(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    headers = {**owner.headers, "Idempotency-Key": "bad"}
    first = client.post("/v1/domains", json={"domains": ["not a name"]}, headers=headers)
    second = client.post("/v1/domains", json={"domains": ["not a name"]}, headers=headers)
    assert first.status_code == second.status_code == 422
    assert second.headers["idempotency-replayed"] == "true"
    assert _count(db, DomainBatch) == 0


def test_unknown_key_is_not_stored_and_gets_401(db: Database, client: TestClient) -> None:
    response = client.post(
        "/v1/domains",
        json={"domains": ["x.com"]},
        headers={"Authorization": "Bearer mf_nope_nope", "Idempotency-Key": "k"},
    )
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_api_key"


def test_overlong_idempotency_key_is_a_bad_request(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    response = client.post(
        "/v1/domains",
        json={"domains": ["x.com"]},
        headers={**owner.headers, "Idempotency-Key": "k" * 256},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_idempotency_key"
    assert _count(db, Domain) == 0


def test_a_replayed_api_key_is_the_same_key_and_never_stored_in_clear(
    db: Database, client: TestClient
) -> None:
    from mailfleet.models import ApiKey, IdempotencyRecord

    owner = make_tenant(db)
    headers = {**owner.headers, "Idempotency-Key": "new-key"}
    first = client.post("/v1/api-keys", json={"name": "ci"}, headers=headers)
    second = client.post("/v1/api-keys", json={"name": "ci"}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.headers["cache-control"] == "no-store"
    token = first.json()["key"]
    assert second.json()["key"] == token
    with db.transaction(write=False) as session:
        stored = session.scalars(select(IdempotencyRecord)).one()
        assert stored.body_encrypted
        assert token.encode() not in (stored.response_body or b"")
        assert session.scalar(select(func.count()).select_from(ApiKey)) == 2


def test_a_rate_limited_request_is_not_stored_and_its_retry_runs(
    db: Database, make_client: Callable[..., TestClient]
) -> None:
    from mailfleet.auth.ratelimit import RateLimiter

    client = make_client(rate_limit_enabled=True, rate_limit_per_second=0, rate_limit_per_minute=1)
    owner = make_tenant(db)
    assert client.get("/v1/domains", headers=owner.headers).status_code == 200
    headers = {**owner.headers, "Idempotency-Key": "after-retry-after"}
    body = {"domains": ["later.com"]}

    limited = client.post("/v1/domains", json=body, headers=headers)
    assert limited.status_code == 429
    # Retry-After has passed: the window is fresh again.
    client.app.state.rate_limiter = RateLimiter(0, 1)  # type: ignore[attr-defined]
    retried = client.post("/v1/domains", json=body, headers=headers)

    assert retried.status_code == 201, retried.text
    assert "idempotency-replayed" not in retried.headers
    assert _count(db, Domain) == 1
    replayed = client.post("/v1/domains", json=body, headers=headers)
    assert replayed.status_code == 201
    assert replayed.headers["idempotency-replayed"] == "true"


@pytest.mark.parametrize(
    ("status", "stored"),
    [
        (200, True),
        (201, True),
        (400, True),
        (404, True),
        (422, True),
        (408, False),
        (425, False),
        (429, False),
        (500, False),
        (503, False),
        (302, False),
    ],
)
def test_only_final_outcomes_are_kept(status: int, stored: bool) -> None:
    from mailfleet.idempotency.middleware import is_final

    assert is_final(status) is stored
