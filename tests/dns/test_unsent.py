"""A committed record change the provider never confirmed is sent again, whatever was lost.

The change's RRsets are marked unsent in the transaction that stores it; only the provider's
answer takes them off. Here the process "dies" between the commit and the answer (the held
provider's `crash`) and the jobs queued meanwhile are lost too (a memory queue): the sweep
finds the change once its due time passes. The clock is moved, never waited on.
"""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.dns import delivery
from mailfleet.dns import tasks as dns_tasks
from mailfleet.jobs.queue import Runtime
from mailfleet.kit import clock
from mailfleet.models import Domain, DomainStatus
from tests.dns.held import Crash, HeldProvider, install
from tests.dns.held import hosted as _hosted
from tests.dns.held import name_of as _name
from tests.factories import Caller, make_tenant
from tests.support.jobs import drain, runtime_of

RECORD = {"name": "app", "type": "A", "content": "192.0.2.1"}
DUE = delivery.RECONCILE_DELAY_SECONDS + 1


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> HeldProvider:
    return install(monkeypatch)


def _unsent(db: Database, domain_id: str) -> tuple[list[list[str]] | None, int]:
    with db.transaction(write=False) as session:
        domain = session.get_one(Domain, uuid.UUID(domain_id))
        return domain.dns_unsent, domain.dns_unsent_tries


def _lose_queued_jobs(runtime: Runtime) -> None:
    """What a restart of a process with a memory queue leaves: no job, queued or scheduled."""
    runtime.huey.flush()


def _crashed_add(client: TestClient, fake: HeldProvider, owner: Caller, domain: str) -> None:
    fake.crash = True
    with pytest.raises(Crash):
        client.post(f"/v1/domains/{domain}/dns/records", json=RECORD, headers=owner.headers)


def _sweep(runtime: Runtime) -> int:
    handed_out = dns_tasks.sweep_unsent_records(runtime)
    drain(runtime)
    return handed_out


def test_a_change_whose_jobs_were_lost_is_sent_by_the_sweep_once_due(
    db: Database, client: TestClient, fake: HeldProvider
) -> None:
    owner = make_tenant(db)
    domain = _hosted(db, owner.workspace_id, "zone")
    key = [f"app.{_name(db, domain)}", "A"]
    _crashed_add(client, fake, owner, domain)
    _lose_queued_jobs(runtime_of(client))
    assert _unsent(db, domain) == ([key], 0)

    # Not before its due time: a send may still be on its way.
    assert _sweep(runtime_of(client)) == 0
    assert fake.taken == []
    clock.advance(DUE)
    assert _sweep(runtime_of(client)) == 1

    assert fake.taken == [("zone", [tuple(key)])]
    assert _unsent(db, domain) == (None, 0)
    clock.advance(DUE * 10)
    assert _sweep(runtime_of(client)) == 0
    assert fake.taken == [("zone", [tuple(key)])]


def test_a_resend_of_records_the_provider_confirmed_calls_nothing(
    db: Database, client: TestClient, fake: HeldProvider
) -> None:
    owner = make_tenant(db)
    domain = _hosted(db, owner.workspace_id, "zone")
    response = client.post(f"/v1/domains/{domain}/dns/records", json=RECORD, headers=owner.headers)
    assert response.status_code == 201
    assert _unsent(db, domain) == (None, 0)
    calls = list(fake.calls)

    delivery.push_records(runtime_of(client), domain, [[f"app.{_name(db, domain)}", "A"]])
    delivery.push_records(runtime_of(client), domain)

    assert fake.calls == calls


def test_a_resend_the_provider_refuses_backs_off_and_goes_through_later(
    db: Database, client: TestClient, fake: HeldProvider
) -> None:
    owner = make_tenant(db)
    domain = _hosted(db, owner.workspace_id, "zone")
    _crashed_add(client, fake, owner, domain)
    _lose_queued_jobs(runtime_of(client))
    fake.refuse = True

    clock.advance(DUE)
    assert _sweep(runtime_of(client)) == 1
    assert _unsent(db, domain)[1] == 1
    # The next try waits twice the delay, then four times.
    clock.advance(DUE)
    assert _sweep(runtime_of(client)) == 0
    clock.advance(DUE)
    assert _sweep(runtime_of(client)) == 1
    assert _unsent(db, domain)[1] == 2
    clock.advance(2 * DUE)
    assert _sweep(runtime_of(client)) == 0
    fake.refuse = False
    clock.advance(2 * DUE)
    assert _sweep(runtime_of(client)) == 1

    assert [zone for zone, _ in fake.taken] == ["zone"]
    assert _unsent(db, domain) == (None, 0)


def test_a_refused_request_leaves_nothing_to_resend(
    db: Database, client: TestClient, fake: HeldProvider
) -> None:
    owner = make_tenant(db)
    domain = _hosted(db, owner.workspace_id, "zone")
    fake.refuse = True

    response = client.post(f"/v1/domains/{domain}/dns/records", json=RECORD, headers=owner.headers)

    assert response.status_code == 502
    assert _unsent(db, domain) == (None, 0)


def test_a_removed_domains_unsent_records_are_dropped_without_a_call(
    db: Database, client: TestClient, fake: HeldProvider
) -> None:
    owner = make_tenant(db)
    domain = _hosted(db, owner.workspace_id, "zone")
    _crashed_add(client, fake, owner, domain)
    _lose_queued_jobs(runtime_of(client))
    with db.transaction() as session:
        session.get_one(Domain, uuid.UUID(domain)).status = DomainStatus.REMOVED
    calls = list(fake.calls)

    clock.advance(DUE)
    assert _sweep(runtime_of(client)) == 1

    assert fake.calls == calls
    assert _unsent(db, domain) == (None, 0)
