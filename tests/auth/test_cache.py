"""The auth cache: answers kept a few seconds, dropped by any access change made in this process.

GET /v1/mailboxes takes the light path (`get_caller` + `read`); POST /v1/domains the session
path (`get_context`). Both read through the same cache.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import cast

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from mailfleet.auth import cache
from mailfleet.auth.service import LastUsedRecorder
from mailfleet.db import Database
from mailfleet.kit import clock
from mailfleet.models import ApiKey, Membership, Role, User
from tests.factories import Caller, make_member, make_tenant

LIST = "/v1/mailboxes"
ID_A = uuid.UUID(int=1)


def _auth_cache(client: TestClient) -> cache.AuthCache:
    auth_cache: cache.AuthCache = cast(FastAPI, client.app).state.auth_cache
    return auth_cache


def _set_role(db: Database, caller: Caller, role: Role) -> None:
    with db.transaction() as session:
        membership = session.scalars(
            select(Membership).where(Membership.user_id == caller.user_id)
        ).one()
        membership.role = role


def test_a_role_change_applies_to_the_next_request(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    member = make_member(db, owner, Role.EDITOR)
    created = client.post("/v1/domains", json={"domains": ["a.com"]}, headers=member.headers)
    assert created.status_code == 201, created.text
    assert client.get(LIST, headers=member.headers).status_code == 200
    _set_role(db, member, Role.VIEWER)
    refused = client.post("/v1/domains", json={"domains": ["b.com"]}, headers=member.headers)
    assert refused.status_code == 403
    assert refused.json()["code"] == "insufficient_role"
    with db.transaction() as session:
        session.execute(
            update(Membership).where(Membership.user_id == member.user_id).values(role=Role.EDITOR)
        )
    again = client.post("/v1/domains", json={"domains": ["b.com"]}, headers=member.headers)
    assert again.status_code == 201, again.text


def test_a_removed_member_loses_the_workspace_at_once(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    member = make_member(db, owner, Role.VIEWER)
    assert client.get(LIST, headers=member.headers).status_code == 200
    with db.transaction() as session:
        session.delete(
            session.scalars(select(Membership).where(Membership.user_id == member.user_id)).one()
        )
    response = client.get(LIST, headers=member.headers)
    assert response.status_code == 404
    assert response.json()["code"] == "workspace_not_found"


def test_a_key_revoked_through_the_api_is_refused_at_once(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    issued = client.post("/v1/api-keys", json={"name": "temp"}, headers=owner.headers).json()
    headers = {"Authorization": f"Bearer {issued['key']}"}
    assert client.get(LIST, headers=headers).status_code == 200
    assert client.delete(f"/v1/api-keys/{issued['id']}", headers=owner.headers).status_code == 200
    refused = client.get(LIST, headers=headers)
    assert refused.status_code == 401
    assert refused.json()["code"] == "invalid_api_key"


def test_a_change_behind_the_orms_back_lasts_at_most_the_cache_lifetime(
    db: Database, client: TestClient
) -> None:
    owner = make_tenant(db)
    assert client.get(LIST, headers=owner.headers).status_code == 200
    # As another process would: no session of this one sees it.
    with db.engine.begin() as connection:
        connection.execute(update(ApiKey.__table__).values(revoked_at=clock.now()))
    assert client.get(LIST, headers=owner.headers).status_code == 200
    auth_cache = _auth_cache(client)
    started = auth_cache.clock()
    auth_cache.clock = lambda: started + cache.CACHE_SECONDS
    assert client.get(LIST, headers=owner.headers).status_code == 401


def test_the_light_path_checks_like_the_session_path(db: Database, client: TestClient) -> None:
    owner, other = make_tenant(db), make_tenant(db)
    # Credentials come before parameters, as with every other endpoint.
    missing = client.get(f"{LIST}?limit=0")
    assert (missing.status_code, missing.json()["code"]) == (401, "missing_credentials")
    unknown = client.get(LIST, headers={"Authorization": "Bearer mf_x_unknown"})
    assert (unknown.status_code, unknown.json()["code"]) == (401, "invalid_api_key")
    bad = client.get(LIST, headers={**owner.headers, "X-Workspace-Id": "nope"})
    assert (bad.status_code, bad.json()["field"]) == (400, "X-Workspace-Id")
    foreign = client.get(LIST, headers={**owner.headers, "X-Workspace-Id": str(other.workspace_id)})
    assert (foreign.status_code, foreign.json()["code"]) == (404, "workspace_not_found")
    assert client.get(f"{LIST}?limit=0", headers=owner.headers).status_code == 422


def test_the_light_path_counts_against_the_rate_limit(
    db: Database, make_client: Callable[..., TestClient]
) -> None:
    client = make_client(rate_limit_enabled=True, rate_limit_per_second=0, rate_limit_per_minute=2)
    owner = make_tenant(db)
    responses = [client.get(LIST, headers=owner.headers) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 429]
    assert [r.headers["ratelimit-remaining"] for r in responses[:2]] == ["1", "0"]
    assert responses[2].json()["code"] == "rate_limited"


def test_the_light_path_records_last_use(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    assert client.get(LIST, headers=owner.headers).status_code == 200
    with db.transaction() as session:
        used = session.scalars(select(ApiKey.last_used_at)).one()
    assert used is not None


def test_what_leaves_access_alone_keeps_the_cache(db: Database) -> None:
    owner = make_tenant(db)
    before = cache.generation()
    with db.transaction() as session:
        LastUsedRecorder.record(session, session.scalars(select(ApiKey.id)).one())
    with db.session(write=True) as session:
        user = session.get_one(User, owner.user_id)
        user.is_operator = True
        session.flush()
        session.rollback()
    assert cache.generation() == before
    with db.transaction() as session:
        session.get_one(User, owner.user_id).is_operator = True
    assert cache.generation() != before


def test_entries_expire_and_the_cache_starts_afresh_when_full() -> None:
    now = [0.0]
    auth_cache = cache.AuthCache(seconds=5, limit=2, clock=lambda: now[0])
    read_in = cache.generation()
    auth_cache.remember_workspace(ID_A, None, (None, None), read_in)
    assert auth_cache.workspace(ID_A, None) == (None, None)
    now[0] = 5.0
    assert auth_cache.workspace(ID_A, None) is None
    auth_cache.remember_workspace(ID_A, "a", (None, None), read_in)
    auth_cache.remember_workspace(ID_A, "b", (None, None), read_in)
    auth_cache.remember_workspace(ID_A, "c", (None, None), read_in)
    assert auth_cache.workspace(ID_A, "a") is None
    assert auth_cache.workspace(ID_A, "c") == (None, None)


def test_an_answer_read_before_a_change_is_not_kept() -> None:
    auth_cache = cache.AuthCache()
    read_in = cache.generation()
    cache._bump()  # a commit changed access while the answer was being read
    auth_cache.remember_workspace(ID_A, None, (None, None), read_in)
    assert auth_cache.workspace(ID_A, None) is None
