"""With the suite's settings and the real default zones (Spamhaus, SURBL, Barracuda, SpamCop),
a blacklist check sends nothing off the machine: with no DNSBL resolver configured the queries
go to the deployment's resolvers (the suite's loopback refuser), and come back as errors."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from mailfleet.db import Database
from tests.dns.test_no_leaks import _off_machine, destinations  # noqa: F401 (a fixture)
from tests.factories import make_domain, make_tenant


def test_a_check_with_the_default_zones_asks_only_loopback(
    db: Database,
    make_client: Callable[..., TestClient],
    destinations: list[str],  # noqa: F811
) -> None:
    client = make_client(dnsbl_enabled=True, dnsbl_sending_ips=["198.51.100.25"])
    owner = make_tenant(db)
    domain = make_domain(db, owner.workspace_id, name="leak-probe.com")

    response = client.post(f"/v1/domains/{domain.id}/reputation/check", headers=owner.headers)

    assert response.status_code == 200, response.text
    errors = response.json()["errors"]
    assert sorted(error["zone"] for error in errors) == ["dbl.spamhaus.org", "multi.surbl.org"]
    assert all("REFUSED" in error["error"] for error in errors)
    assert response.json()["listings"] == []
    assert destinations, "the check sent nothing: the probe recorded no socket use"
    assert _off_machine(destinations) == []
