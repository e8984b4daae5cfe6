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
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from mailfleet.db import Database
from mailfleet.dns import delivery
from mailfleet.dns import tasks as dns_tasks
from mailfleet.domains import tasks as domain_tasks
from mailfleet.mailboxes import domain_setup
from mailfleet.models import Domain, Event, MailboxType
from tests.dns.held import (
    SLOW,
    Crash,
    HeldProvider,
    in_thread,
    install,
    lock_probe,
    pushed,
    run_scheduled,
)
from tests.dns.held import hosted as _hosted
from tests.dns.held import name_of as _name
from tests.factories import Caller, make_tenant
from tests.support.jobs import drain, runtime_of


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> HeldProvider:
    return install(monkeypatch)


def test_writes_elsewhere_do_not_wait_for_a_slow_provider(
    db: Database, client: TestClient, fake: HeldProvider
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
    fake.wait_entered(thread, slow_answer)
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
        thread.join(60)

    assert [response.status_code for response in responses] == [201, 201, 201]
    assert held_throughout, "the other writes only finished once the slow provider answered"
    assert slow_answer["response"].status_code == 201, slow_answer["response"].text
    listed = client.get(f"/v1/domains/{slow}/dns/records", headers=owner.headers).json()
    assert [r["name"].split(".")[0] for r in listed["items"] if not r["managed"]] == ["app"]


def test_a_refusal_after_the_commit_puts_the_change_back(
    db: Database, client: TestClient, fake: HeldProvider
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
    db: Database, client: TestClient, fake: HeldProvider
) -> None:
    owner = make_tenant(db)
    domain = _hosted(db, owner.workspace_id, "zone")
    fake.crash = True
    # As if the process had died before the provider answered: the job sends it again.
    with pytest.raises(Crash):
        client.post(
            f"/v1/domains/{domain}/dns/records",
            json={"name": "app", "type": "A", "content": "192.0.2.1"},
            headers=owner.headers,
        )
    assert fake.taken == []
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    delivery.push_records(runtime, domain, [[f"app.{_name(db, domain)}", "A"]])
    assert fake.taken == [("zone", [(f"app.{_name(db, domain)}", "A")])]


# --- settings changes and jobs: committed first, sent with no lock held ---------------------


def _published(db: Database, client: TestClient, workspace_id: Any, zone_id: str) -> str:
    """A GOOGLE domain whose managed records are stored and at the provider already."""
    domain = _hosted(db, workspace_id, zone_id, MailboxType.GOOGLE)
    dns_tasks.publish_records(runtime_of(client), [domain])
    run_scheduled(runtime_of(client))  # the publish's own resend, done with before the test
    return domain


def _meanwhile(client: TestClient, owner: Caller, held: str, elsewhere: str) -> list[int]:
    """Writes made while the held domain's provider call waits: on the held domain's own row
    (a row lock would stop it), on another domain (with its own provider call), and elsewhere
    in the deployment (SQLite's write lock would stop any of them)."""
    responses = [
        client.patch(f"/v1/domains/{held}", json={"tags": ["meanwhile"]}, headers=owner.headers),
        client.patch(
            f"/v1/domains/{elsewhere}", json={"dmarc_policy": "reject"}, headers=owner.headers
        ),
        client.post(
            f"/v1/domains/{elsewhere}/dns/records",
            json={"name": "app", "type": "A", "content": "192.0.2.1"},
            headers=owner.headers,
        ),
        client.post("/v1/workspaces", json={"name": "Meanwhile"}, headers=owner.headers),
    ]
    return [response.status_code for response in responses]


def _hold(
    fake: HeldProvider, work: Callable[[], object], meanwhile: Callable[[], list[int]]
) -> tuple[list[int], bool, dict[str, object]]:
    """Run `work` until the provider holds it, make the other writes, then let it go."""
    thread, outcome = in_thread(work)
    fake.wait_entered(thread, outcome)
    try:
        statuses = meanwhile()
        held_throughout = not fake.returned.is_set()
    finally:
        fake.release.set()
        thread.join(60)
    assert not thread.is_alive()
    return statuses, held_throughout, outcome


def test_a_settings_change_does_not_stall_writes_elsewhere(
    db: Database, client: TestClient, fake: HeldProvider
) -> None:
    owner = make_tenant(db)
    fake.release.set()  # the set-up's own publishing goes through
    slow = _published(db, client, owner.workspace_id, SLOW)
    fake.rearm()
    other = _published(db, client, owner.workspace_id, "zone-0")

    def change() -> object:
        return client.patch(
            f"/v1/domains/{slow}", json={"dmarc_policy": "quarantine"}, headers=owner.headers
        )

    statuses, held_throughout, outcome = _hold(
        fake, change, lambda: _meanwhile(client, owner, slow, other)
    )

    assert statuses == [200, 200, 201, 201]
    assert held_throughout, "the other writes only finished once the slow provider answered"
    answer: Any = outcome.get("result")
    assert answer is not None, outcome
    assert answer.status_code == 200, answer.text
    assert answer.json()["dmarc_policy"] == "quarantine"
    assert (SLOW, [(f"_dmarc.{_name(db, slow)}", "TXT")]) in fake.taken


def test_a_refused_settings_change_is_put_back(
    db: Database, client: TestClient, fake: HeldProvider
) -> None:
    owner = make_tenant(db)
    domain = _published(db, client, owner.workspace_id, "zone")
    url = f"/v1/domains/{domain}"
    before = client.get(url, headers=owner.headers).json()
    records = client.get(f"{url}/dns/records", headers=owner.headers).json()
    fake.refuse = True

    response = client.patch(
        url, json={"dmarc_policy": "reject", "tags": ["x"]}, headers=owner.headers
    )

    assert response.status_code == 502, response.text
    assert response.json()["code"] == "dns_provider_error"
    assert client.get(url, headers=owner.headers).json() == before
    assert client.get(f"{url}/dns/records", headers=owner.headers).json() == records
    # The change had been committed (its event may have gone out): its revert is recorded too.
    with db.transaction(write=False) as session:
        changes = session.scalars(
            select(Event.data)
            .where(Event.subject_id == uuid.UUID(domain), Event.type == "domain.settings_changed")
            .order_by(Event.id)
        ).all()
    assert [change.get("reverted", False) for change in changes] == [False, True]
    assert changes[1]["fields"] == ["dmarc_policy", "tags"]


def test_a_settings_change_lost_after_its_commit_is_sent_by_the_resend_job(
    db: Database, client: TestClient, fake: HeldProvider
) -> None:
    owner = make_tenant(db)
    domain = _published(db, client, owner.workspace_id, "zone")
    dmarc = (f"_dmarc.{_name(db, domain)}", "TXT")
    fake.taken.clear()
    fake.crash = True

    with pytest.raises(Crash):
        client.patch(
            f"/v1/domains/{domain}", json={"dmarc_policy": "reject"}, headers=owner.headers
        )

    # The change was committed before the provider was called; the resend completes it, once.
    answer = client.get(f"/v1/domains/{domain}", headers=owner.headers).json()
    assert answer["dmarc_policy"] == "reject"
    assert fake.taken == []
    assert run_scheduled(runtime_of(client)) == [delivery.RECONCILE]
    assert fake.taken == [("zone", [dmarc])]
    assert drain(runtime_of(client)) == 0
    assert run_scheduled(runtime_of(client)) == []
    assert fake.taken == [("zone", [dmarc])]


def test_the_publish_job_holds_no_lock_while_the_provider_works(
    db: Database, client: TestClient, fake: HeldProvider
) -> None:
    owner = make_tenant(db)
    slow = _hosted(db, owner.workspace_id, SLOW, MailboxType.GOOGLE)
    other = _published(db, client, owner.workspace_id, "zone-0")

    statuses, held_throughout, outcome = _hold(
        fake,
        lambda: dns_tasks.publish_records(runtime_of(client), [slow]),
        lambda: _meanwhile(client, owner, slow, other),
    )

    assert statuses == [200, 200, 201, 201]
    assert held_throughout, "the other writes only finished once the slow provider answered"
    assert "error" not in outcome
    sent = [keys for zone, keys in fake.taken if zone == SLOW]
    assert sent == [pushed(db, slow)]


def test_a_publish_lost_after_its_commit_is_sent_by_the_resend_job(
    db: Database, client: TestClient, fake: HeldProvider
) -> None:
    owner = make_tenant(db)
    domain = _hosted(db, owner.workspace_id, "zone", MailboxType.GOOGLE)
    fake.crash = True

    with pytest.raises(Crash):
        dns_tasks.publish_records(runtime_of(client), [domain])

    stored = pushed(db, domain)
    assert stored
    assert fake.taken == []
    assert run_scheduled(runtime_of(client)) == [delivery.RECONCILE]
    assert fake.taken == [("zone", stored)]
    # Publishing again finds the zone as it should be: nothing is sent twice.
    dns_tasks.publish_records(runtime_of(client), [domain])
    assert run_scheduled(runtime_of(client)) == []
    assert fake.taken == [("zone", stored)]


def _submitted(client: TestClient, owner: Caller, name: str) -> str:
    response = client.post(
        "/v1/domains", json={"domains": [name], "mailbox_type": "GOOGLE"}, headers=owner.headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["accepted"][0]["id"])


def test_zone_creation_holds_no_lock_while_the_provider_works(
    db: Database, client: TestClient, fake: HeldProvider
) -> None:
    owner = make_tenant(db)
    fake.zone_ids["held-zone.test"] = SLOW
    slow = _submitted(client, owner, "held-zone.test")
    other = _published(db, client, owner.workspace_id, "zone-0")

    statuses, held_throughout, outcome = _hold(
        fake,
        lambda: domain_tasks.create_zones(runtime_of(client), [slow]),
        lambda: _meanwhile(client, owner, slow, other),
    )

    assert statuses == [200, 200, 201, 201]
    assert held_throughout, "the other writes only finished once the slow provider answered"
    assert "error" not in outcome
    answer = client.get(f"/v1/domains/{slow}", headers=owner.headers).json()
    assert (answer["status"], answer["tags"]) == ("PENDING_NS", ["meanwhile"])
    sent = [keys for zone, keys in fake.taken if zone == SLOW]
    assert sent == [pushed(db, slow)]


def test_zone_records_lost_after_the_zone_commits_are_sent_by_the_resend_job(
    db: Database, client: TestClient, fake: HeldProvider
) -> None:
    owner = make_tenant(db)
    domain = _submitted(client, owner, "lost-records.test")
    fake.crash = True

    with pytest.raises(Crash):
        domain_tasks.create_zones(runtime_of(client), [domain])

    # The zone and its records were committed; only the provider lacks the records.
    answer = client.get(f"/v1/domains/{domain}", headers=owner.headers).json()
    assert answer["status"] == "PENDING_NS"
    stored = pushed(db, domain)
    assert stored
    assert fake.taken == []
    assert run_scheduled(runtime_of(client)) == [delivery.RECONCILE]
    assert fake.taken == [("lost-records.test", stored)]
    # The zone job again (a duplicate, or the sweep's) has nothing left to do.
    domain_tasks.create_zones(runtime_of(client), [domain])
    assert run_scheduled(runtime_of(client)) == []
    assert fake.taken == [("lost-records.test", stored)]


def test_no_dns_provider_call_runs_under_a_lock(
    db: Database, client: TestClient, fake: HeldProvider
) -> None:
    """Every path that calls the DNS provider, with the provider asking at each call whether
    the write lock (SQLite) or the domain's row lock (PostgreSQL) is held right then."""
    fake.release.set()
    fake.probe = lock_probe(db)
    owner = make_tenant(db)
    runtime = runtime_of(client)
    submitted = _submitted(client, owner, "probed.test")
    domain_tasks.create_zones(runtime, [submitted])
    hosted = _published(db, client, owner.workspace_id, "zone-0")
    url = f"/v1/domains/{hosted}"
    added = client.post(
        f"{url}/dns/records",
        json={"name": "app", "type": "A", "content": "192.0.2.1"},
        headers=owner.headers,
    )
    record_url = f"{url}/dns/records/{added.json()['id']}"
    responses = [
        added,
        client.put(
            record_url,
            json={"name": "app", "type": "A", "content": "192.0.2.2"},
            headers=owner.headers,
        ),
        client.delete(record_url, headers=owner.headers),
        client.patch(url, json={"dmarc_policy": "reject"}, headers=owner.headers),
        client.post(f"{url}/dns/reset", headers=owner.headers),
    ]
    domain_setup.publish_verification(runtime, _name(db, hosted), "google-site-verification=x")
    assert run_scheduled(runtime)

    assert [r.status_code for r in responses] == [201, 200, 204, 200, 200]
    zones = {zone for zone, _ in fake.calls}
    assert {"probed.test", "zone-0"} <= zones
    assert len(fake.calls) >= 8
    assert fake.under_lock == []


def test_the_lock_probe_sees_a_held_lock(db: Database) -> None:
    """The probe above would see a lock: one held by an open write transaction."""
    owner = make_tenant(db)
    domain = _hosted(db, owner.workspace_id, "zone")
    probe = lock_probe(db)
    assert not probe(_name(db, domain))
    with db.transaction() as session:
        session.execute(
            select(Domain).where(Domain.id == uuid.UUID(domain)).with_for_update()
        ).first()
        session.execute(update(Domain).where(Domain.id == uuid.UUID(domain)).values(tags=["x"]))
        assert probe(_name(db, domain))
    assert not probe(_name(db, domain))


def test_a_refusal_keeps_what_another_request_changed_meanwhile(
    db: Database, client: TestClient, fake: HeldProvider
) -> None:
    owner = make_tenant(db)
    fake.release.set()
    domain = _published(db, client, owner.workspace_id, SLOW)
    fake.rearm()
    fake.refuse = True
    url = f"/v1/domains/{domain}"

    def change() -> object:
        body = {"dmarc_policy": "reject", "tags": ["mine"]}
        return client.patch(url, json=body, headers=owner.headers)

    statuses, held_throughout, outcome = _hold(
        fake,
        change,
        lambda: [client.patch(url, json={"tags": ["theirs"]}, headers=owner.headers).status_code],
    )

    assert statuses == [200]
    assert held_throughout
    answer: Any = outcome.get("result")
    assert answer is not None, outcome
    assert answer.status_code == 502, answer.text
    after = client.get(url, headers=owner.headers).json()
    assert (after["dmarc_policy"], after["tags"]) == ("none", ["theirs"])


def test_builtin_zones_queue_no_resends(db: Database, client: TestClient) -> None:
    """The builtin server answers from the database: nothing to send, nothing to resend (a
    batch of zones would otherwise queue one job per domain)."""
    owner = make_tenant(db)
    domain = _submitted(client, owner, "builtin-zone.test")
    domain_tasks.create_zones(runtime_of(client), [domain])
    added = client.post(
        f"/v1/domains/{domain}/dns/records",
        json={"name": "app", "type": "A", "content": "192.0.2.1"},
        headers=owner.headers,
    )
    changed = client.patch(
        f"/v1/domains/{domain}", json={"dmarc_policy": "reject"}, headers=owner.headers
    )

    assert (added.status_code, changed.status_code) == (201, 200)
    answer = client.get(f"/v1/domains/{domain}", headers=owner.headers).json()
    assert (answer["dns_provider"], answer["status"]) == ("builtin", "PENDING_NS")
    assert run_scheduled(runtime_of(client)) == []
