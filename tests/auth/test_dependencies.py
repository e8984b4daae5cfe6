from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from mailfleet.auth import dependencies
from mailfleet.auth.service import issue_key
from mailfleet.db import Database
from mailfleet.kit import reads
from mailfleet.models import User
from tests.factories import make_tenant


def test_missing_credentials_get_401_with_challenge(db: Database, client: TestClient) -> None:
    response = client.get("/v1/domains")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "missing_credentials"


def test_unknown_key_gets_401(db: Database, client: TestClient) -> None:
    response = client.get("/v1/domains", headers={"Authorization": "Bearer mf_x_unknown"})
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_api_key"


def test_workspace_header_must_name_a_membership(db: Database, client: TestClient) -> None:
    owner, other = make_tenant(db), make_tenant(db)
    headers = {**owner.headers, "X-Workspace-Id": str(other.workspace_id)}
    response = client.get("/v1/domains", headers=headers)
    assert response.status_code == 404
    assert response.json()["code"] == "workspace_not_found"
    bad = client.get("/v1/domains", headers={**owner.headers, "X-Workspace-Id": "nope"})
    assert bad.status_code == 400
    assert bad.json()["field"] == "X-Workspace-Id"


def test_without_header_the_first_workspace_is_used(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    headers = {"Authorization": f"Bearer {owner.token}"}
    created = client.post("/v1/domains", json={"domains": ["first.com"]}, headers=headers)
    assert created.status_code == 201
    listed = client.get("/v1/domains", headers=owner.headers).json()["items"]
    assert [d["name"] for d in listed] == ["first.com"]


def test_pinned_key_cannot_act_on_another_workspace(db: Database, client: TestClient) -> None:
    owner, other = make_tenant(db), make_tenant(db)
    with db.transaction() as session:
        user = session.get(User, owner.user_id)
        assert user is not None
        pinned = issue_key(session, user=user, name="pinned", workspace_id=owner.workspace_id).token
    headers = {"Authorization": f"Bearer {pinned}", "X-Workspace-Id": str(uuid.uuid4())}
    response = client.get("/v1/domains", headers=headers)
    assert response.status_code == 403
    assert response.json()["code"] == "key_pinned"
    assert other.workspace_id != owner.workspace_id


def test_rate_limit_answers_429_with_retry_after(
    db: Database, make_client: Callable[..., TestClient]
) -> None:
    client = make_client(rate_limit_enabled=True, rate_limit_per_second=0, rate_limit_per_minute=3)
    owner = make_tenant(db)
    responses = [client.get("/v1/domains", headers=owner.headers) for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert [r.headers["ratelimit-remaining"] for r in responses[:3]] == ["2", "1", "0"]
    assert responses[0].headers["ratelimit-limit"] == "3"
    limited = responses[3]
    assert limited.json()["code"] == "rate_limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 60


def test_rate_limit_is_per_key(db: Database, make_client: Callable[..., TestClient]) -> None:
    client = make_client(rate_limit_enabled=True, rate_limit_per_second=0, rate_limit_per_minute=1)
    first, second = make_tenant(db), make_tenant(db)
    assert client.get("/v1/domains", headers=first.headers).status_code == 200
    assert client.get("/v1/domains", headers=first.headers).status_code == 429
    assert client.get("/v1/domains", headers=second.headers).status_code == 200


def test_a_failed_request_changes_nothing(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    response = client.post(
        "/v1/domains", json={"domains": ["ok.com"], "tags": ["x\x00"]}, headers=owner.headers
    )
    assert response.status_code == 422
    assert response.json()["field"] == "tags[0]"
    assert client.get("/v1/domains", headers=owner.headers).json()["items"] == []


def test_a_warm_bounded_read_takes_a_worker_thread_only_where_it_may_wait(
    db: Database, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = make_tenant(db)
    # Fills the auth cache, records last use and leaves an idle connection in the pool.
    assert client.get("/v1/mailboxes", headers=owner.headers).status_code == 200

    async def no_thread(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a worker thread was used")

    monkeypatch.setattr(dependencies, "run_in_threadpool", no_thread)
    monkeypatch.setattr(reads, "run_in_threadpool", no_thread)
    if db.engine.dialect.name != "sqlite":
        # PostgreSQL reads wait on the network: they always take a worker thread.
        with pytest.raises(AssertionError, match="worker thread"):
            client.get("/v1/mailboxes?status=ACTIVE", headers=owner.headers)
        return
    assert client.get("/v1/mailboxes?status=ACTIVE", headers=owner.headers).status_code == 200
    with pytest.raises(AssertionError, match="worker thread"):
        client.get("/v1/mailboxes?q=box", headers=owner.headers)  # a text search may scan
