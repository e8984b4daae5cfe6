"""Tenant isolation of /inboxedup, generated from its own route table (as for /v1).

Every route taking an id is called by another account with the id of the victim's object: 404
in the envelope and nothing changes. Every write is refused to a VIEWER. Every list shows only
the caller's objects. A route added later without a sample here fails these tests.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.models import DomainStatus, MailboxType, Role
from tests.factories import (
    fund_wallet,
    give_slots,
    make_domain,
    make_member,
    make_subscription,
    make_tenant,
    seed_plans,
)
from tests.test_tenant_isolation import _snapshot

API = "/inboxedup"


class Victim:
    def __init__(self, db: Database, client: TestClient) -> None:
        self.owner = make_tenant(db)
        self.domain = make_domain(db, self.owner.workspace_id, status=DomainStatus.ACTIVE)
        give_slots(db, self.owner.workspace_id, MailboxType.SMTP, 10)
        request = client.post(
            f"{API}/mailboxes",
            json=self.mailbox_request(),
            headers=self.owner.headers,
        )
        assert request.status_code == 201, request.text
        self.request_id = request.json()["requestId"]
        batch = client.post(
            f"{API}/domains", json={"domains": ["victim-batch.com"]}, headers=self.owner.headers
        )
        self.batch_id = batch.json()["data"]["batchId"]
        seed_plans(db)
        fund_wallet(db, self.owner.workspace_id, 10_000)
        self.subscription = make_subscription(db, self.owner.workspace_id)

    def mailbox_request(self) -> dict[str, Any]:
        return {
            "domain": f"dom_{self.domain.id.hex}",
            "type": "smtp",
            "mailboxes": [{"firstName": "A", "lastName": "B", "mailboxUsername": "intruder"}],
        }

    def ids(self) -> dict[str, str]:
        return {
            "domainId": f"dom_{self.domain.id.hex}",
            "batchId": self.batch_id,
            "requestId": self.request_id,
            "subscriptionId": str(self.subscription),
        }

    def body(self, method: str, path: str) -> Any:
        samples: dict[tuple[str, str], Any] = {
            ("POST", f"{API}/domains"): {"domains": ["isolation-test.com"]},
            ("POST", f"{API}/mailboxes"): self.mailbox_request(),
            ("PATCH", f"{API}/subscriptions/{{subscriptionId}}"): {"notes": "intruder"},
        }
        if method in ("POST", "PATCH", "PUT") and (method, path) not in samples:
            assert "{" in path, f"add a sample body for {method} {path}"
            return None
        return samples.get((method, path))


def _routes(client: TestClient) -> list[tuple[str, str]]:
    paths = client.get(f"{API}/openapi.json").json()["paths"]
    return [(method.upper(), path) for path, ops in paths.items() for method in ops]


def _fill(path: str, ids: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        assert match.group(1) in ids, f"add a victim object for {{{match.group(1)}}}"
        return ids[match.group(1)]

    return re.sub(r"\{(\w+)\}", replace, path)


def test_every_route_with_an_id_hides_other_accounts(db: Database, client: TestClient) -> None:
    victim = Victim(db, client)
    intruder = make_tenant(db)
    give_slots(db, intruder.workspace_id, MailboxType.SMTP, 10)
    checked = 0
    for method, path in _routes(client):
        if "{" not in path:
            continue
        before = _snapshot(db)
        response = client.request(
            method,
            _fill(path, victim.ids()),
            json=victim.body(method, path),
            headers=intruder.headers,
        )
        assert response.status_code == 404, f"{method} {path}: {response.text}"
        assert response.json()["success"] is False
        assert _snapshot(db) == before, f"{method} {path} changed the database"
        checked += 1
    # Another account's domain named in a body is not found either.
    before = _snapshot(db)
    response = client.post(
        f"{API}/mailboxes", json=victim.mailbox_request(), headers=intruder.headers
    )
    assert response.status_code == 404, response.text
    assert _snapshot(db) == before
    assert checked >= 6


def test_a_viewer_cannot_write(db: Database, client: TestClient) -> None:
    victim = Victim(db, client)
    viewer = make_member(db, victim.owner, Role.VIEWER)
    checked = 0
    for method, path in _routes(client):
        if method == "GET":
            continue
        before = _snapshot(db)
        response = client.request(
            method,
            _fill(path, victim.ids()),
            json=victim.body(method, path),
            headers=viewer.headers,
        )
        assert response.status_code == 403, f"{method} {path}: {response.text}"
        assert response.json()["error"]["code"] == "insufficient_role"
        assert _snapshot(db) == before, f"{method} {path} changed the database"
        checked += 1
    assert checked >= 5


def test_every_list_shows_only_the_callers_objects(db: Database, client: TestClient) -> None:
    victim = Victim(db, client)
    intruder = make_tenant(db)
    secrets = {*victim.ids().values(), victim.domain.name, str(victim.owner.user_id)}
    for method, path in _routes(client):
        if method != "GET" or "{" in path:
            continue
        response = client.get(path, headers=intruder.headers)
        assert response.status_code == 200, f"{path}: {response.text}"
        leaked = [v for v in secrets if v in response.text]
        assert not leaked, f"GET {path} shows another account's {leaked}"
