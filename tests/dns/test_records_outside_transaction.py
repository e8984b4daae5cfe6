"""A user's record change reaches the provider after its commit, with no lock held.

On SQLite every write request holds the database-wide write lock until it commits: a provider
call inside that transaction (a slow Cloudflare answer) would stall every write of the
deployment. Here the provider of one domain does not answer until the test lets it, and writes
on other domains (and elsewhere) made meanwhile finish while it is still held. No clock is read:
a write that waited for the held one could only finish after it was let go (or the hold timed
out), which the test sees.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from mailfleet.db import Database
from mailfleet.dns import service as dns_service
from mailfleet.dns.providers.base import DnsProviderError, RRset, Zone
from mailfleet.models import Domain, MailboxType
from tests.factories import make_domain, make_tenant

HOLD_SECONDS = 30.0


class FakeProvider:
    """Answers every change; the zone named "slow" only once `release` is set."""

    name = "fake"

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.returned = threading.Event()
        self.calls: list[tuple[str, list[tuple[str, str]]]] = []
        self.refuse = False

    def replace_rrsets(
        self,
        zone: Zone,
        zone_name: str,
        rrsets: Sequence[RRset],
        *,
        delete: Sequence[tuple[str, str]] = (),
    ) -> dict[tuple[str, str, str], str]:
        self.calls.append((zone.zone_id, [(r.name, r.type) for r in rrsets]))
        if zone.zone_id == "slow":
            self.entered.set()
            self.release.wait(HOLD_SECONDS)
            self.returned.set()
        if self.refuse:
            raise DnsProviderError("refused", retryable=False)
        return {}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeProvider:
    provider = FakeProvider()
    monkeypatch.setattr(dns_service, "provider_of", lambda settings, domain: provider)
    return provider


def _hosted(
    db: Database, workspace_id: Any, zone_id: str, mailbox_type: MailboxType | None = None
) -> str:
    domain = make_domain(db, workspace_id, mailbox_type=mailbox_type)
    with db.transaction() as session:
        session.execute(
            update(Domain)
            .where(Domain.id == domain.id)
            .values(zone_id=zone_id, dns_provider="fake")
        )
    return str(domain.id)


def test_writes_elsewhere_do_not_wait_for_a_slow_provider(
    db: Database, client: TestClient, fake: FakeProvider
) -> None:
    owner = make_tenant(db)
    slow = _hosted(db, owner.workspace_id, "slow")
    others = [_hosted(db, owner.workspace_id, f"zone-{i}") for i in range(2)]
    record = {"name": "app", "type": "A", "content": "192.0.2.1"}
    slow_answer: dict[str, Any] = {}

    def slow_write() -> None:
        slow_answer["response"] = client.post(
            f"/v1/domains/{slow}/dns/records", json=record, headers=owner.headers
        )

    thread = threading.Thread(target=slow_write)
    thread.start()
    assert fake.entered.wait(10), "the slow provider was never called"
    try:
        responses = [
            client.post(f"/v1/domains/{domain}/dns/records", json=record, headers=owner.headers)
            for domain in others
        ]
        responses.append(
            client.post("/v1/workspaces", json={"name": "Meanwhile"}, headers=owner.headers)
        )
        held_throughout = not fake.returned.is_set()
    finally:
        fake.release.set()
        thread.join(10)

    assert [response.status_code for response in responses] == [201, 201, 201]
    assert held_throughout, "the other writes only finished once the slow provider answered"
    assert slow_answer["response"].status_code == 201, slow_answer["response"].text
    listed = client.get(f"/v1/domains/{slow}/dns/records", headers=owner.headers).json()
    assert [r["name"].split(".")[0] for r in listed["items"] if not r["managed"]] == ["app"]


def test_a_refusal_after_the_commit_puts_the_change_back(
    db: Database, client: TestClient, fake: FakeProvider
) -> None:
    owner = make_tenant(db)
    # A mailbox type, so that a reset has managed records (MX, SPF...) to push.
    domain = _hosted(db, owner.workspace_id, "zone", MailboxType.GOOGLE)
    url = f"/v1/domains/{domain}/dns/records"
    kept = client.post(
        url, json={"name": "a", "type": "A", "content": "192.0.2.1"}, headers=owner.headers
    )
    assert kept.status_code == 201
    before = client.get(url, headers=owner.headers).json()
    fake.refuse = True

    added = client.post(
        url, json={"name": "b", "type": "A", "content": "192.0.2.2"}, headers=owner.headers
    )
    changed = client.put(
        f"{url}/{kept.json()['id']}",
        json={"name": "a", "type": "A", "content": "192.0.2.9"},
        headers=owner.headers,
    )
    deleted = client.delete(f"{url}/{kept.json()['id']}", headers=owner.headers)
    reset = client.post(f"/v1/domains/{domain}/dns/reset", headers=owner.headers)

    for response in (added, changed, deleted, reset):
        assert response.status_code == 502, response.text
        assert response.json()["code"] == "dns_provider_error"
    assert client.get(url, headers=owner.headers).json() == before


def test_a_change_is_sent_again_by_the_reconcile_job(
    db: Database, client: TestClient, fake: FakeProvider
) -> None:
    owner = make_tenant(db)
    domain = _hosted(db, owner.workspace_id, "zone")
    response = client.post(
        f"/v1/domains/{domain}/dns/records",
        json={"name": "app", "type": "A", "content": "192.0.2.1"},
        headers=owner.headers,
    )
    assert response.status_code == 201
    assert fake.calls == [("zone", [(f"app.{_name(db, domain)}", "A")])]
    # As if the process had died before the provider answered: the job sends it again.
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    dns_service.push_records(runtime, domain, [[f"app.{_name(db, domain)}", "A"]])
    assert fake.calls[-1] == fake.calls[0]


def _name(db: Database, domain_id: str) -> str:
    import uuid

    with db.transaction(write=False) as session:
        return session.get_one(Domain, uuid.UUID(domain_id)).name
