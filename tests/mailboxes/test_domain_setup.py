"""A domain's ownership record for Google or Microsoft reaches the DNS provider after its commit.

`domain_setup.publish_verification` runs inside a provisioning round: the record is stored and
committed, then sent with no transaction open, so a slow DNS provider holds no write lock (on
SQLite, the whole deployment's) and no row lock on the domain. A refusal puts the record back
for the round to retry; a crash before the answer leaves the resend job to complete it.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.dns import delivery
from mailfleet.dns import tasks as dns_tasks
from mailfleet.exceptions import BadGateway
from mailfleet.mailboxes import domain_setup
from mailfleet.models import Domain, MailboxType
from tests.dns.held import (
    SLOW,
    Crash,
    HeldProvider,
    hosted,
    in_thread,
    install,
    managed,
    name_of,
    run_scheduled,
)
from tests.factories import make_tenant
from tests.support.jobs import runtime_of

TOKEN = "google-site-verification=abc123"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> HeldProvider:
    return install(monkeypatch)


def _published(
    db: Database, client: TestClient, fake: HeldProvider, workspace_id: Any, zone_id: str
) -> str:
    """A GOOGLE domain with its records at the provider, and nothing left to resend."""
    fake.release.set()
    domain = hosted(db, workspace_id, zone_id, MailboxType.GOOGLE)
    dns_tasks.publish_records(runtime_of(client), [domain])
    run_scheduled(runtime_of(client))
    fake.rearm()
    fake.taken.clear()
    return domain


def _token(db: Database, domain_id: str) -> str | None:
    with db.transaction(write=False) as session:
        return session.get_one(Domain, uuid.UUID(domain_id)).provider_verification


def test_publishing_the_ownership_record_holds_no_lock(
    db: Database, client: TestClient, fake: HeldProvider
) -> None:
    owner = make_tenant(db)
    domain = _published(db, client, fake, owner.workspace_id, SLOW)
    name = name_of(db, domain)
    thread, outcome = in_thread(
        lambda: domain_setup.publish_verification(runtime_of(client), name, TOKEN)
    )
    fake.wait_entered(thread, outcome)
    try:
        responses: list[Any] = [
            client.patch(f"/v1/domains/{domain}", json={"tags": ["x"]}, headers=owner.headers),
            client.post("/v1/workspaces", json={"name": "Meanwhile"}, headers=owner.headers),
        ]
        held_throughout = not fake.returned.is_set()
    finally:
        fake.release.set()
        thread.join(60)

    assert [response.status_code for response in responses] == [200, 201]
    assert held_throughout, "the other writes only finished once the slow provider answered"
    assert "error" not in outcome
    assert fake.taken == [(SLOW, [(name, "TXT")])]


def test_a_refused_ownership_record_is_put_back_for_the_next_round(
    db: Database, client: TestClient, fake: HeldProvider
) -> None:
    domain = _published(db, client, fake, make_tenant(db).workspace_id, "zone")
    name = name_of(db, domain)
    records = managed(db, domain)
    fake.refuse = True

    with pytest.raises(BadGateway):
        domain_setup.publish_verification(runtime_of(client), name, TOKEN)

    assert _token(db, domain) is None
    assert managed(db, domain) == records
    # The round's retry stores and sends it again.
    fake.refuse = False
    domain_setup.publish_verification(runtime_of(client), name, TOKEN)
    assert _token(db, domain) == TOKEN
    assert fake.taken == [("zone", [(name, "TXT")])]


def test_an_ownership_record_lost_after_its_commit_is_sent_by_the_resend_job(
    db: Database, client: TestClient, fake: HeldProvider
) -> None:
    domain = _published(db, client, fake, make_tenant(db).workspace_id, "zone")
    name = name_of(db, domain)
    fake.crash = True

    with pytest.raises(Crash):
        domain_setup.publish_verification(runtime_of(client), name, TOKEN)

    assert _token(db, domain) == TOKEN
    assert fake.taken == []
    assert run_scheduled(runtime_of(client)) == [delivery.RECONCILE]
    assert fake.taken == [("zone", [(name, "TXT")])]
    # The next round finds the record stored and sends nothing twice.
    domain_setup.publish_verification(runtime_of(client), name, TOKEN)
    assert run_scheduled(runtime_of(client)) == []
    assert fake.taken == [("zone", [(name, "TXT")])]
