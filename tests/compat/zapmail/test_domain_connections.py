"""Bringing domains to Zapmail (the legacy name-servers / verify / connect calls and the new
connect call), connection requests, the health score and the DNS check."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from mailfleet.db import Database
from mailfleet.kit import clock
from mailfleet.models import BlacklistListing, Domain, DomainSource, DomainStatus, ReputationCheck
from mailfleet.models.reputation import SubjectKind
from tests.compat.zapmail.test_domains import ISO_MS
from tests.factories import Caller, make_domain, make_tenant

API = "/zapmail/api/v2"
REQUEST_KEYS = [
    "id",
    "domainName",
    "userId",
    "workspaceId",
    "serviceProvider",
    "dnsManagedBy",
    "status",
    "metadata",
    "nextRetryOn",
    "createdAt",
    "updatedAt",
    "deletedAt",
]


def _post(client: TestClient, caller: Caller, path: str, body: Any, method: str = "POST") -> Any:
    headers = {**caller.zapmail_headers, "x-service-provider": "GOOGLE"}
    return client.request(method, f"{API}{path}", json=body, headers=headers)


def _domains(db: Database, caller: Caller) -> list[Domain]:
    with db.transaction(write=False) as session:
        return list(
            session.scalars(
                select(Domain)
                .where(Domain.workspace_id == caller.workspace_id)
                .order_by(Domain.name)
            )
        )


def test_legacy_name_servers_answer_the_documented_shape_once_per_domain(
    db: Database, client: TestClient
) -> None:
    owner = make_tenant(db)
    body = {"domainName": "yourdomain.com", "maskForwarding": False}

    first = _post(client, owner, "/domains/name-servers", body)
    again = _post(client, owner, "/domains/name-servers", body)

    assert first.status_code == 200, first.text
    assert first.json()["message"] == "NS records for transfer fetched successfully"
    assert list(first.json()["data"]) == ["nameServers"]
    [domain] = _domains(db, owner)
    assert first.json()["data"]["nameServers"] == f"{domain.nameserver_1},{domain.nameserver_2}"
    assert again.json() == first.json()
    assert (
        domain.name,
        domain.source,
        domain.mailbox_type.value if domain.mailbox_type else None,
    ) == (
        "yourdomain.com",
        DomainSource.CONNECTED,
        "GOOGLE",
    )
    missing = _post(client, owner, "/domains/name-servers", {"domainName": "other.com"})
    assert (missing.status_code, missing.json()["field"]) == (422, "maskForwarding")
    assert len(_domains(db, owner)) == 1


def test_a_name_another_account_holds_is_refused_without_saying_whose(
    db: Database, client: TestClient
) -> None:
    holder = make_tenant(db)
    make_domain(db, holder.workspace_id, name="held-elsewhere.com")
    owner = make_tenant(db)

    response = _post(
        client,
        owner,
        "/domains/name-servers",
        {"domainName": "held-elsewhere.com", "maskForwarding": True},
    )

    assert response.status_code == 422, response.text
    assert response.json()["code"] == "no_domain_accepted"
    assert str(holder.workspace_id) not in response.text
    assert _domains(db, owner) == []


def test_verify_reports_the_propagation_and_needs_the_domain_first(
    db: Database, client: TestClient
) -> None:
    owner = make_tenant(db)
    unknown = _post(client, owner, "/domains/name-servers/verify", {"domainName": "nope.com"})
    assert (unknown.status_code, unknown.json()["code"]) == (404, "domain_not_found")

    _post(
        client,
        owner,
        "/domains/name-servers",
        {"domainName": "verify-me.com", "maskForwarding": False},
    )
    response = _post(client, owner, "/domains/name-servers/verify", {"domainName": "Verify-Me.com"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["message"] == "Name servers are not propagated yet"
    data = body["data"]
    assert list(data) == ["domainName", "verified", "nameServers", "currentNameServers", "reason"]
    assert (data["domainName"], data["verified"]) == ("verify-me.com", False)
    assert data["reason"]
    [domain] = _domains(db, owner)
    assert domain.status == DomainStatus.PENDING_NS  # the check made its zone; not delegated
    assert domain.last_checked_at is not None


def test_connect_domain_takes_the_legacy_and_the_new_body(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    make_domain(db, make_tenant(db).workspace_id, name="taken-here.com")

    legacy = _post(
        client, owner, "/domains/connect-domain", {"domainName": "legacy.com", "nameServers": "a,b"}
    )
    new = _post(
        client,
        owner,
        "/domains/connect-domain",
        {"domainNames": ["new-one.com", "legacy.com", "not a name", "taken-here.com"]},
    )

    assert legacy.status_code == 200, legacy.text
    assert legacy.json() == {
        "status": 200,
        "message": "Domain Connected Successfully",
        "data": None,
    }
    assert new.status_code == 200, new.text
    assert new.json()["message"] == "Domain connection requests created successfully"
    data = new.json()["data"]
    assert [r["domainName"] for r in data["connectionRequests"]] == ["new-one.com", "legacy.com"]
    assert [(r["domainName"], r["code"]) for r in data["rejected"]] == [
        ("not a name", "invalid_syntax"),
        ("taken-here.com", "domain_taken"),
    ]
    assert [d.name for d in _domains(db, owner)] == ["legacy.com", "new-one.com"]

    nothing = _post(client, owner, "/domains/connect-domain", {"domainNames": ["taken-here.com"]})
    assert (nothing.status_code, nothing.json()["code"]) == (422, "no_domain_accepted")
    neither = _post(client, owner, "/domains/connect-domain", {})
    assert (neither.status_code, neither.json()["field"]) == (422, "domainName")


def test_connection_requests_list_the_documented_item_and_filter_by_status(
    db: Database, client: TestClient
) -> None:
    owner = make_tenant(db)
    queued = make_domain(db, owner.workspace_id, name="a-queued.com", status=DomainStatus.QUEUED)
    waiting = make_domain(db, owner.workspace_id, name="b-wait.com", status=DomainStatus.PENDING_NS)
    checked = make_domain(
        db, owner.workspace_id, name="c-checked.com", status=DomainStatus.PENDING_NS
    )
    done = make_domain(db, owner.workspace_id, name="d-done.com")
    bought = make_domain(db, owner.workspace_id, name="e-bought.com", status=DomainStatus.QUEUED)
    report = {"parents": [{"nameservers": ["ns1.old-host.net", "ns2.old-host.net"]}]}
    with db.transaction() as session:
        session.execute(
            update(Domain)
            .where(Domain.id == checked.id)
            .values(last_checked_at=clock.now(), delegation_report=report)
        )
        session.execute(
            update(Domain).where(Domain.id == bought.id).values(source=DomainSource.PURCHASED)
        )

    def listed(status: str | None = None) -> Any:
        params = {"status": status} if status else {}
        response = client.get(
            f"{API}/domains/connection-requests", params=params, headers=owner.zapmail_headers
        )
        assert response.status_code == 200, response.text
        return response.json()

    body = listed()
    assert body["message"] == "Pending domain connection requests"
    data = body["data"]
    assert list(data) == [
        "totalSearchedCount",
        "currentPage",
        "nextPage",
        "totalPages",
        "totalCount",
        "data",
    ]
    assert (data["totalSearchedCount"], data["totalCount"]) == (3, 3)
    by_name = {item["domainName"]: item for item in data["data"]}
    assert list(by_name) == ["a-queued.com", "b-wait.com", "c-checked.com"]
    item = by_name["c-checked.com"]
    assert list(item) == REQUEST_KEYS
    assert item["id"] == str(checked.id)
    assert (item["status"], item["dnsManagedBy"], item["deletedAt"]) == (
        "NS_NOT_CHANGED",
        "ZAPMAILDNS",
        None,
    )
    assert item["metadata"]["currentNameServers"] == ["ns1.old-host.net", "ns2.old-host.net"]
    assert ISO_MS.match(item["createdAt"])
    assert by_name["a-queued.com"]["status"] == "PENDING"
    assert by_name["b-wait.com"]["status"] == "CHECKING_NS_IN_WHOIS"
    assert [i["id"] for i in listed("PENDING")["data"]["data"]] == [str(queued.id)]
    assert [i["id"] for i in listed("checking_ns_in_whois")["data"]["data"]] == [str(waiting.id)]
    assert [i["id"] for i in listed("SUCCESS")["data"]["data"]] == [str(done.id)]
    assert listed("NS_VERIFIED")["data"]["data"] == []
    bogus = client.get(
        f"{API}/domains/connection-requests",
        params={"status": "DONE"},
        headers=owner.zapmail_headers,
    )
    assert (bogus.status_code, bogus.json()["field"]) == (422, "status")


def test_removing_connection_requests_spares_connected_domains(
    db: Database, client: TestClient
) -> None:
    owner = make_tenant(db)
    stuck = make_domain(db, owner.workspace_id, status=DomainStatus.PENDING_NS)
    done = make_domain(db, owner.workspace_id)
    path = "/domains/connection-requests"

    refused = _post(client, owner, path, {"ids": [str(stuck.id), str(done.id)]}, method="DELETE")
    assert (refused.status_code, refused.json()["code"]) == (400, "connection_completed")
    assert {d.status for d in _domains(db, owner)} == {DomainStatus.PENDING_NS, DomainStatus.ACTIVE}

    removed = _post(client, owner, path, {"ids": [str(stuck.id)]}, method="DELETE")
    assert removed.status_code == 200, removed.text
    assert removed.json()["message"] == "Domain connection requests removed successfully"
    assert {d.id: d.status for d in _domains(db, owner)}[stuck.id] == DomainStatus.REMOVED


def _listed(db: Database, domain: Domain, zone: str) -> None:
    with db.transaction() as session:
        check = ReputationCheck(
            kind=SubjectKind.DOMAIN,
            subject=domain.name,
            domain_id=domain.id,
            workspace_id=domain.workspace_id,
            checked_at=clock.now(),
        )
        session.add(check)
        session.flush()
        session.add(
            BlacklistListing(
                check_id=check.id,
                kind=SubjectKind.DOMAIN,
                subject=domain.name,
                domain_id=domain.id,
                workspace_id=domain.workspace_id,
                zone=zone,
                return_code="127.0.1.2",
                listed_at=clock.now(),
            )
        )


def test_health_score_is_the_native_score(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    listed = make_domain(db, owner.workspace_id, name="listed.com")
    clean = make_domain(db, owner.workspace_id, name="clean.com")
    waiting = make_domain(db, owner.workspace_id, status=DomainStatus.PENDING_NS)
    _listed(db, listed, "dbl.example.org")

    one = client.get(
        f"{API}/domains/health-score",
        params={"domainId": str(listed.id)},
        headers=owner.zapmail_headers,
    )
    every = client.get(f"{API}/domains/health-score", headers=owner.zapmail_headers)
    not_active = client.get(
        f"{API}/domains/health-score",
        params={"domainId": str(waiting.id)},
        headers=owner.zapmail_headers,
    )

    assert one.status_code == 200, one.text
    assert one.json()["message"] == "Domain health score fetched successfully"
    data = one.json()["data"]
    native = client.get(f"/v1/domains/{listed.id}/reputation", headers=owner.headers).json()
    assert data["healthScore"] == native["score"]["total"]
    assert data["band"] == native["score"]["band"]
    assert (data["domainId"], data["domain"], data["listedOn"]) == (str(listed.id), "listed.com", 1)
    assert [entry["zone"] for entry in data["listings"]] == ["dbl.example.org"]
    assert [item["domain"] for item in every.json()["data"]] == ["clean.com", "listed.com"]
    scores = {item["domain"]: item["healthScore"] for item in every.json()["data"]}
    assert scores["clean.com"] > scores["listed.com"]
    assert clean.name in scores
    assert (not_active.status_code, not_active.json()["code"]) == (400, "domain_status_conflict")


def test_check_dns_says_when_a_domain_has_no_zone_yet(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    queued = make_domain(db, owner.workspace_id, status=DomainStatus.QUEUED)

    response = _post(client, owner, "/domains/check-dns", {"domainIds": [str(queued.id)]})
    too_many = _post(client, owner, "/domains/check-dns", {"domainIds": [str(queued.id)] * 21})

    assert response.status_code == 200, response.text
    [item] = response.json()["data"]
    assert (item["domainId"], item["checked"], item["report"]) == (str(queued.id), False, None)
    assert item["reason"]
    assert (too_many.status_code, too_many.json()["field"]) == (422, "domainIds")
