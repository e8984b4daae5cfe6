"""The health score as served: DNS health, SPF/DKIM/DMARC from the domain's records, listings;
and where the checks send their queries."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.models import Domain
from mailfleet.reputation import checks
from tests.conftest import base_settings
from tests.factories import make_dns_record, make_domain, make_tenant
from tests.reputation.dnsbl_server import DnsblServer


def _authenticated(db: Database, domain: Domain, *, dkim_type: str = "TXT") -> None:
    make_dns_record(db, domain, content="v=spf1 mx -all")
    make_dns_record(db, domain, name=f"_dmarc.{domain.name}", content="v=DMARC1; p=none")
    dkim = "v=DKIM1; k=rsa; p=MIIB" if dkim_type == "TXT" else "sel-x._domainkey.tenant.test"
    make_dns_record(
        db, domain, name=f"mailfleet._domainkey.{domain.name}", type=dkim_type, content=dkim
    )


def _health(db: Database, domain: Domain, *, ok: bool, drift: bool) -> None:
    with db.transaction() as session:
        row = session.get(Domain, domain.id)
        assert row is not None
        row.health_report = {"ok": ok, "drift": drift, "records": []}


def _score(client: TestClient, headers: dict[str, str], domain: Domain) -> dict[str, object]:
    response = client.get(f"/v1/domains/{domain.id}/reputation", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json()["score"])


def test_score_parts_and_bands(db: Database, bl_client: TestClient, dnsbl: DnsblServer) -> None:
    owner = make_tenant(db)
    bare = make_domain(db, owner.workspace_id, name="bare.com")
    bare_score = _score(bl_client, owner.headers, bare)
    assert bare_score["total"] == 60  # unchecked DNS (half its part), no records, no listing
    assert bare_score["band"] == "fair"
    healthy = make_domain(db, owner.workspace_id, name="healthy.com")
    _authenticated(db, healthy)
    _health(db, healthy, ok=True, drift=False)
    score = _score(bl_client, owner.headers, healthy)
    assert score["total"] == 100
    assert score["band"] == "good"
    assert score["parts"] == {
        "dns": {"points": 20, "of": 20, "state": "healthy"},
        "authentication": {"points": 30, "of": 30, "spf": True, "dkim": True, "dmarc": True},
        "listings": {"points": 50, "of": 50, "current": 0},
    }

    # A Microsoft domain's DKIM is a CNAME to the tenant: it counts.
    microsoft = make_domain(db, owner.workspace_id, name="ms-domain.com")
    _authenticated(db, microsoft, dkim_type="CNAME")
    _health(db, microsoft, ok=False, drift=True)
    drifting = _score(bl_client, owner.headers, microsoft)
    assert drifting["total"] == 80
    assert drifting["parts"]["dns"] == {"points": 0, "of": 20, "state": "drift"}  # type: ignore[index]

    dnsbl.list("healthy.com.dbl.test", "127.0.1.2", "spam")
    dnsbl.list("healthy.com.surbl.test", "127.0.0.64")
    checked = bl_client.post(f"/v1/domains/{healthy.id}/reputation/check", headers=owner.headers)
    assert checked.status_code == 200
    listed = checked.json()["score"]
    assert listed["total"] == 50  # two listings: the whole listings part gone
    assert listed["band"] == "fair"

    summary = bl_client.get("/v1/reputation", headers=owner.headers).json()
    assert summary["bands"] == {"good": 1, "fair": 2, "poor": 0}
    assert [(d["domain"], d["score"]) for d in summary["listed_domains"]] == [("healthy.com", 50)]
    assert summary["last_checked_at"] is not None


def test_queries_go_to_the_configured_resolvers_only(tmp_path: Path) -> None:
    fallback = base_settings(tmp_path, "sqlite:///:memory:")
    # No DNSBL resolver set: the deployment's resolvers (the suite's loopback refuser).
    assert checks.resolvers_from(fallback).servers == [
        (host, int(port)) for host, port in (fallback.dns_resolvers[0].split(":"),)
    ]
    own = base_settings(tmp_path, "sqlite:///:memory:", dnsbl_resolvers="127.0.0.1:5399")
    assert checks.resolvers_from(own).servers == [("127.0.0.1", 5399)]


def test_query_names() -> None:
    assert checks.Query("203.0.113.7", "zen.test", True).name == "7.113.0.203.zen.test"
    assert checks.Query("2001:db8::1", "zen.test", True).name.startswith("1.0.0.0.")
    assert checks.Query("2001:db8::1", "zen.test", True).name.endswith(".8.b.d.0.1.0.0.2.zen.test")
    assert checks.Query("acme.com", "dbl.test", False).name == "acme.com.dbl.test"
