"""DNSBL checks through the real app against a loopback DNSBL: listings with their return code
and reason, a Spamhaus refusal that is no listing, listing and delisting events, the sweep."""

from __future__ import annotations

import threading
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from mailfleet.db import Database
from mailfleet.jobs.queue import Runtime
from mailfleet.jobs.worker import SWEEPERS
from mailfleet.models import BlacklistListing, DomainStatus, Event, Role
from mailfleet.reputation import tasks
from tests.factories import Caller, make_domain, make_member, make_tenant
from tests.reputation.conftest import SENDING_IP, dnsbl_settings
from tests.reputation.dnsbl_server import DnsblServer
from tests.support.jobs import drain


def _events(db: Database, type_: str) -> list[Event]:
    with db.transaction(write=False) as session:
        return list(session.scalars(select(Event).where(Event.type == type_).order_by(Event.id)))


def _reputation(client: TestClient, owner: Caller, domain_id: object) -> dict[str, Any]:
    response = client.get(f"/v1/domains/{domain_id}/reputation", headers=owner.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_sweep_finds_listed_domains_and_ips_and_records_refusals_as_errors(
    db: Database, bl_client: TestClient, dnsbl: DnsblServer
) -> None:
    owner = make_tenant(db)
    listed = make_domain(db, owner.workspace_id, name="listed-domain.com")
    refused = make_domain(db, owner.workspace_id, name="refused-domain.com")
    clean = make_domain(db, owner.workspace_id, name="clean-domain.com")
    waiting = make_domain(
        db, owner.workspace_id, name="waiting.com", status=DomainStatus.PENDING_NS
    )
    dnsbl.list("listed-domain.com.dbl.test", "127.0.1.2", "Spam domain, see https://example.test")
    dnsbl.list("refused-domain.com.dbl.test", "127.255.255.254")
    dnsbl.list("7.113.0.203.zen.test", "127.0.0.2", "Listed IP")
    runtime: Runtime = bl_client.app.state.runtime  # type: ignore[attr-defined]

    # The worker's sweep hands out three ACTIVE domains and the sending IP; the jobs check them.
    assert tasks.sweep_blacklists in SWEEPERS
    assert tasks.sweep_blacklists(runtime) == 4
    drain(runtime)

    names = {name for name, _, _ in dnsbl.received}
    assert "waiting.com.dbl.test" not in names  # only ACTIVE domains are asked
    assert {"clean-domain.com.dbl.test", "clean-domain.com.surbl.test"} <= names
    assert "7.113.0.203.zen.test" in names  # the IP reversed under the IP zone

    found = _reputation(bl_client, owner, listed.id)
    assert [(item["zone"], item["return_code"], item["reason"]) for item in found["listings"]] == [
        ("dbl.test", "127.0.1.2", "Spam domain, see https://example.test")
    ]
    assert found["checked_at"] is not None
    assert found["errors"] == []
    assert found["score"]["parts"]["listings"] == {"points": 15, "of": 50, "current": 1}

    not_a_listing = _reputation(bl_client, owner, refused.id)
    assert not_a_listing["listings"] == []
    assert [error["zone"] for error in not_a_listing["errors"]] == ["dbl.test"]
    assert "127.255.255.254" in not_a_listing["errors"][0]["error"]
    assert not_a_listing["score"]["parts"]["listings"]["points"] == 50

    assert _reputation(bl_client, owner, clean.id)["listings"] == []
    assert _reputation(bl_client, owner, waiting.id)["checked_at"] is None

    summary = bl_client.get("/v1/reputation", headers=owner.headers).json()
    assert summary["domains"] == 3
    assert [item["domain"] for item in summary["listed_domains"]] == ["listed-domain.com"]
    assert [(item["subject"], item["zone"]) for item in summary["sending_ip_listings"]] == [
        (SENDING_IP, "zen.test")
    ]
    assert sum(summary["bands"].values()) == 3

    blacklisted = _events(db, "domain.blacklisted")
    assert [(e.subject_id, e.data["zone"], e.data["return_code"]) for e in blacklisted] == [
        (listed.id, "dbl.test", "127.0.1.2")
    ]
    assert blacklisted[0].workspace_id == owner.workspace_id

    # Nothing is due again before the interval: a second sweep asks nothing.
    before = dnsbl.count
    assert tasks.sweep_blacklists(runtime) == 0
    drain(runtime)
    assert dnsbl.count == before


def test_listing_then_delisting_between_two_checks(
    db: Database, bl_client: TestClient, dnsbl: DnsblServer
) -> None:
    owner = make_tenant(db)
    domain = make_domain(db, owner.workspace_id, name="burned.com")
    path = f"/v1/domains/{domain.id}/reputation/check"
    dnsbl.list("burned.com.surbl.test", "127.0.0.2", "On SURBL")

    first = bl_client.post(path, headers=owner.headers)
    assert first.status_code == 200, first.text
    assert [item["zone"] for item in first.json()["listings"]] == ["surbl.test"]

    # Listed again, with another reason: the listing follows, no second event, no second row.
    dnsbl.list("burned.com.surbl.test", "127.0.0.4", "Still on SURBL")
    again = bl_client.post(path, headers=owner.headers).json()
    assert [(item["return_code"], item["reason"]) for item in again["listings"]] == [
        ("127.0.0.4", "Still on SURBL")
    ]
    assert len(_events(db, "domain.blacklisted")) == 1

    # The list refuses this time: no verdict, the listing stands.
    dnsbl.list("burned.com.surbl.test", "127.255.255.255")
    kept = bl_client.post(path, headers=owner.headers).json()
    assert [item["zone"] for item in kept["listings"]] == ["surbl.test"]
    assert [error["zone"] for error in kept["errors"]] == ["surbl.test"]
    assert _events(db, "domain.delisted") == []

    dnsbl.delist("burned.com.surbl.test")
    second = bl_client.post(path, headers=owner.headers).json()
    assert second["listings"] == []
    assert [(item["zone"], item["return_code"]) for item in second["history"]] == [
        ("surbl.test", "127.0.0.4")
    ]
    assert second["history"][0]["delisted_at"] is not None
    delisted = _events(db, "domain.delisted")
    assert [(e.subject_id, e.data["zone"]) for e in delisted] == [(domain.id, "surbl.test")]

    # Listed once more: a new listing row, the old one stays history.
    dnsbl.list("burned.com.surbl.test", "127.0.0.2", "Back on SURBL")
    third = bl_client.post(path, headers=owner.headers).json()
    assert [item["reason"] for item in third["listings"]] == ["Back on SURBL"]
    assert len(third["history"]) == 1
    with db.transaction(write=False) as session:
        assert len(session.scalars(select(BlacklistListing)).all()) == 2
    assert len(_events(db, "domain.blacklisted")) == 2


def test_check_now_refusals(
    db: Database, bl_client: TestClient, make_client: Any, dnsbl: DnsblServer
) -> None:
    owner = make_tenant(db)
    pending = make_domain(db, owner.workspace_id, status=DomainStatus.PENDING_NS)
    response = bl_client.post(f"/v1/domains/{pending.id}/reputation/check", headers=owner.headers)
    assert response.status_code == 409
    assert response.json()["code"] == "domain_status_conflict"

    active = make_domain(db, owner.workspace_id)
    viewer = make_member(db, owner, Role.VIEWER)
    path = f"/v1/domains/{active.id}/reputation/check"
    assert bl_client.post(path, headers=viewer.headers).status_code == 403
    assert (
        bl_client.get(f"/v1/domains/{active.id}/reputation", headers=viewer.headers).status_code
        == 200
    )

    off = make_client(dnsbl_enabled=False, dnsbl_resolvers=[dnsbl.address])
    refused = off.post(path, headers=owner.headers)
    assert refused.status_code == 409
    assert refused.json()["code"] == "blacklist_checks_disabled"
    assert dnsbl.count == 0

    other = make_tenant(db)
    assert bl_client.post(path, headers=other.headers).status_code == 404
    assert (
        bl_client.get(f"/v1/domains/{active.id}/reputation", headers=other.headers).status_code
        == 404
    )
    assert dnsbl.count == 0


def test_a_check_now_holds_no_lock_while_the_lists_answer(
    db: Database, bl_client: TestClient, dnsbl: DnsblServer
) -> None:
    """The DNSBL does not answer until the test lets it; meanwhile writes on the same domain
    and elsewhere finish. No clock is read: a write that waited could only finish after the
    release, which `held_throughout` would see."""
    owner = make_tenant(db)
    domain = make_domain(db, owner.workspace_id, name="held.com")
    dnsbl.hold = True
    answer: dict[str, Any] = {}

    def check() -> None:
        answer["response"] = bl_client.post(
            f"/v1/domains/{domain.id}/reputation/check", headers=owner.headers
        )

    thread = threading.Thread(target=check)
    thread.start()
    # Generous under a loaded CI machine; a check that answered without asking says why.
    for _ in range(120):
        if dnsbl.entered.wait(0.5):
            break
        assert thread.is_alive(), f"the check answered without asking: {answer['response'].text}"
    assert dnsbl.entered.is_set(), "the DNSBL was never asked"
    try:
        tagged = bl_client.patch(
            f"/v1/domains/{domain.id}", json={"tags": ["meanwhile"]}, headers=owner.headers
        )
        created = bl_client.post(
            "/v1/workspaces", json={"name": "Meanwhile"}, headers=owner.headers
        )
        held_throughout = not dnsbl.release.is_set()
    finally:
        dnsbl.release.set()
        thread.join(30)

    assert tagged.status_code == 200, tagged.text
    assert created.status_code == 201, created.text
    assert held_throughout
    assert answer["response"].status_code == 200, answer["response"].text
    assert answer["response"].json()["checked_at"] is not None


def test_a_sweep_hands_out_what_the_budget_can_ask_before_the_next(
    db: Database, make_client: Any, dnsbl: DnsblServer
) -> None:
    """At 1 query a second, two domain zones and a 10 s sweep, a sweep hands out 5 subjects:
    more would only hold worker threads waiting for tokens. The rest stays due."""
    client = make_client(
        **dnsbl_settings(dnsbl, dnsbl_queries_per_second=1.0, dnsbl_sending_ips=[]),
        sweep_interval=10,
    )
    owner = make_tenant(db)
    for i in range(7):
        make_domain(db, owner.workspace_id, name=f"budget-{i}.com")
    runtime: Runtime = client.app.state.runtime
    assert tasks.sweep_blacklists(runtime) == 5
    assert tasks.sweep_blacklists(runtime) == 2
    assert tasks.sweep_blacklists(runtime) == 0
    assert dnsbl.count == 0  # claimed, not run: the jobs wait in the queue
