"""Records of a hosted zone over the API, checked against what PowerDNS actually serves."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import checkdmarc.dmarc
import checkdmarc.spf
import dns.flags
import dns.message
import dns.query
import dns.rdatatype
import dns.zone
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from mailfleet.db import Database
from mailfleet.dns import dkim
from mailfleet.jobs.worker import sweep
from mailfleet.kit import clock
from mailfleet.models import Domain, Event, MailboxType
from tests.factories import Caller, give_slots, make_tenant, order_body
from tests.support.dns_fixtures import PARENT_ZONE, TEST_PAIR
from tests.support.jobs import drain
from tests.support.powerdns import PowerDNS


@dataclass
class Hosted:
    client: TestClient
    caller: Caller
    id: str
    name: str
    pdns: PowerDNS

    def url(self, suffix: str = "") -> str:
        return f"/v1/domains/{self.id}{suffix}"

    def call(self, method: str, suffix: str = "", **kwargs: Any) -> Any:
        return self.client.request(method, self.url(suffix), headers=self.caller.headers, **kwargs)

    def served(self, name: str, rdtype: str) -> list[Any]:
        """What the zone's authoritative server answers, asked directly (no cache, no recursion)."""
        query = dns.message.make_query(name, rdtype)
        query.flags &= ~dns.flags.RD
        host, port = self.pdns.address.rsplit(":", 1)
        response = dns.query.tcp(query, host, port=int(port), timeout=2)
        assert response.flags & dns.flags.AA
        return [
            rdata
            for rrset in response.answer
            for rdata in rrset
            if rrset.rdtype == dns.rdatatype.from_text(rdtype)
        ]

    def txt(self, name: str) -> list[str]:
        return [b"".join(rdata.strings).decode() for rdata in self.served(name, "TXT")]

    def settle(self) -> None:
        drain(self.client.app.state.runtime)  # type: ignore[attr-defined]


@pytest.fixture
def hosted(
    db: Database,
    make_client: Callable[..., TestClient],
    dns_overrides: dict[str, Any],
    pdns_parent: PowerDNS,
    pdns_child: PowerDNS,
    unique_domain: Callable[[str], str],
) -> Hosted:
    """An ACTIVE domain whose zone lives at the PowerDNS child, delegated at the fake parent."""
    client = make_client(**dns_overrides)
    caller = make_tenant(db)
    name = unique_domain("rec")
    pdns_parent.delegate(PARENT_ZONE, name, TEST_PAIR)
    response = client.post("/v1/domains", json={"domains": [name]}, headers=caller.headers)
    assert response.status_code == 201, response.text
    hosted = Hosted(client, caller, response.json()["accepted"][0]["id"], name, pdns_child)
    hosted.settle()
    assert hosted.call("GET").json()["status"] == "ACTIVE"
    return hosted


def _type(hosted: Hosted, mailbox_type: str) -> None:
    response = hosted.call("PATCH", json={"mailbox_type": mailbox_type})
    assert response.status_code == 200, response.text
    hosted.settle()


def test_smtp_domain_publishes_records_that_validate(hosted: Hosted, db: Database) -> None:
    _type(hosted, "SMTP")
    name = hosted.name

    [mx] = hosted.served(name, "MX")
    assert mx.exchange.to_text() == "mail.mailfleet.local."
    [spf] = [text for text in hosted.txt(name) if text.startswith("v=spf1")]
    parsed = checkdmarc.spf.parse_spf_record(spf, name, nameservers=[], timeout=0.5)
    assert parsed["dns_lookups"] < 10
    [dmarc] = hosted.txt(f"_dmarc.{name}")
    assert checkdmarc.dmarc.parse_dmarc_record(dmarc, name)["tags"]["p"]["value"] == "none"

    # The DKIM key is served split in 255-byte strings; a signature made with the stored
    # (encrypted) private key verifies against it.
    with db.transaction(write=False) as session:
        domain = session.scalars(select(Domain).where(Domain.name == name)).one()
    [dkim_rdata] = hosted.served(f"{domain.dkim_selector}._domainkey.{name}", "TXT")
    assert len(dkim_rdata.strings) > 1
    assert all(len(part) <= 255 for part in dkim_rdata.strings)
    message = f"From: a@{name}\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nHello.\r\n".encode()
    box = hosted.client.app.state.secrets  # type: ignore[attr-defined]
    signed = dkim.sign_with_sealed(
        message,
        selector=domain.dkim_selector or "",
        domain=name,
        private_key_enc=domain.dkim_private_key_enc or "",
        box=box,
    )
    assert dkim.verify_message(signed, lambda qname, **_: b"".join(dkim_rdata.strings))


def test_health_check_marks_drift_and_reset_repairs_it(hosted: Hosted, db: Database) -> None:
    _type(hosted, "SMTP")
    check = hosted.call("POST", "/dns/check")
    assert check.status_code == 200, check.text
    assert check.json()["drift"] is False
    assert check.json()["report"]["dkim"]["match"] is True

    # Someone removes the DMARC record behind Mailfleet's back.
    hosted.pdns.delete_rrsets(hosted.name, [(f"_dmarc.{hosted.name}", "TXT")])
    check = hosted.call("POST", "/dns/check").json()
    assert check["drift"] is True
    missing = [r for r in check["report"]["records"] if r["status"] == "missing"]
    assert [(r["name"], r["type"]) for r in missing] == [(f"_dmarc.{hosted.name}", "TXT")]
    assert hosted.call("GET").json()["dns_drift"] is True
    with db.transaction(write=False) as session:
        types = list(
            session.scalars(select(Event.type).where(Event.type.like("domain.dns_drift%")))
        )
    assert types == ["domain.dns_drift"]

    reset = hosted.call("POST", "/dns/reset")
    assert reset.status_code == 200, reset.text
    assert hosted.txt(f"_dmarc.{hosted.name}")
    assert hosted.call("POST", "/dns/check").json()["drift"] is False
    assert hosted.call("GET").json()["dns_drift"] is False


def test_changing_the_type_swaps_the_provider_records(hosted: Hosted) -> None:
    _type(hosted, "GOOGLE")
    assert [mx.exchange.to_text() for mx in hosted.served(hosted.name, "MX")] == [
        "smtp.google.com."
    ]
    assert any("include:_spf.google.com" in t for t in hosted.txt(hosted.name))

    _type(hosted, "MICROSOFT")
    [mx] = hosted.served(hosted.name, "MX")
    assert mx.exchange.to_text().endswith(".mail.protection.outlook.com.")
    assert any("include:spf.protection.outlook.com" in t for t in hosted.txt(hosted.name))
    [cname] = hosted.served(f"autodiscover.{hosted.name}", "CNAME")
    assert cname.target.to_text() == "autodiscover.outlook.com."
    assert not any("_spf.google.com" in t for t in hosted.txt(hosted.name))


def test_dmarc_settings_are_published(hosted: Hosted) -> None:
    _type(hosted, "SMTP")
    response = hosted.call(
        "PATCH", json={"dmarc_policy": "quarantine", "dmarc_rua": "reports@example.com"}
    )
    assert response.status_code == 200, response.text
    [dmarc] = hosted.txt(f"_dmarc.{hosted.name}")
    assert "p=quarantine" in dmarc
    assert "rua=mailto:reports@example.com" in dmarc


def test_user_records_round_trip_to_the_provider(hosted: Hosted) -> None:
    added = hosted.call(
        "POST",
        "/dns/records",
        json={"name": "app", "type": "A", "content": "192.0.2.10", "ttl": 300},
    )
    assert added.status_code == 201, added.text
    record = added.json()
    assert record["name"] == f"app.{hosted.name}"
    assert record["managed"] is False
    assert [a.address for a in hosted.served(f"app.{hosted.name}", "A")] == ["192.0.2.10"]

    updated = hosted.call(
        "PUT",
        f"/dns/records/{record['id']}",
        json={"name": "app", "type": "A", "content": "192.0.2.20", "ttl": 300},
    )
    assert updated.status_code == 200, updated.text
    assert [a.address for a in hosted.served(f"app.{hosted.name}", "A")] == ["192.0.2.20"]

    listed = hosted.call("GET", "/dns/records").json()
    assert any(r["id"] == record["id"] for r in listed["items"])

    deleted = hosted.call("DELETE", f"/dns/records/{record['id']}")
    assert deleted.status_code == 204
    assert hosted.served(f"app.{hosted.name}", "A") == []


def test_managed_records_are_protected(hosted: Hosted) -> None:
    _type(hosted, "SMTP")
    records = hosted.call("GET", "/dns/records").json()["items"]
    managed = next(r for r in records if r["type"] == "MX")
    assert managed["managed"] is True

    response = hosted.call("DELETE", f"/dns/records/{managed['id']}")
    assert response.status_code == 409
    assert response.json()["code"] == "managed_record"
    response = hosted.call(
        "POST",
        "/dns/records",
        json={"name": "@", "type": "MX", "content": "mx.other.net", "priority": 5},
    )
    assert response.status_code == 409
    assert response.json()["code"] == "managed_record"
    response = hosted.call(
        "POST", "/dns/records", json={"name": "@", "type": "TXT", "content": "v=spf1 -all"}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "spf_exists"
    assert [mx.exchange.to_text() for mx in hosted.served(hosted.name, "MX")] == [
        "mail.mailfleet.local."
    ]


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        (
            {"name": "x", "type": "A", "content": "not-an-ip"},
            422,
            "invalid_record_content",
            "content",
        ),
        ({"name": "@", "type": "CNAME", "content": "elsewhere.net"}, 422, "cname_at_apex", "name"),
        (
            {"name": "mx2", "type": "MX", "content": "mx.example.net"},
            422,
            "priority_required",
            "priority",
        ),
        (
            {"name": "bad name!", "type": "A", "content": "192.0.2.1"},
            422,
            "invalid_record_name",
            "name",
        ),
        ({"name": "x", "type": "SOA", "content": "whatever"}, 422, "validation_error", "type"),
        (
            {"name": "x", "type": "A", "content": "192.0.2.1", "ttl": 5},
            422,
            "validation_error",
            "ttl",
        ),
    ],
)
def test_bad_records_are_refused_with_the_field(
    hosted: Hosted, body: dict[str, Any], status: int, code: str, field: str
) -> None:
    before = hosted.call("GET", "/dns/records").json()
    response = hosted.call("POST", "/dns/records", json=body)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert response.json()["field"] == field
    assert hosted.call("GET", "/dns/records").json() == before


def test_cname_cannot_share_a_name(hosted: Hosted) -> None:
    first = hosted.call(
        "POST", "/dns/records", json={"name": "www", "type": "A", "content": "192.0.2.1"}
    )
    assert first.status_code == 201
    response = hosted.call(
        "POST", "/dns/records", json={"name": "www", "type": "CNAME", "content": "x.net"}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "cname_conflict"


def test_a_provider_failure_changes_nothing(
    hosted: Hosted, make_client: Callable[..., TestClient], dns_overrides: dict[str, Any]
) -> None:
    broken = make_client(**{**dns_overrides, "powerdns_api_url": "http://127.0.0.1:9"})
    before = hosted.call("GET", "/dns/records").json()
    response = broken.post(
        hosted.url("/dns/records"),
        json={"name": "lost", "type": "A", "content": "192.0.2.1"},
        headers=hosted.caller.headers,
    )
    assert response.status_code == 502
    assert response.json()["code"] == "dns_provider_error"
    assert hosted.call("GET", "/dns/records").json() == before


def test_zone_file_export_parses_back(hosted: Hosted) -> None:
    _type(hosted, "SMTP")
    hosted.call("POST", "/dns/records", json={"name": "app", "type": "A", "content": "192.0.2.10"})
    response = hosted.call("GET", "/dns/zone")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/dns")
    zone = dns.zone.from_text(response.text, origin=hosted.name, relativize=False)
    soa = zone.get_rdataset(hosted.name + ".", "SOA")
    assert soa is not None
    assert soa[0].serial == hosted.call("GET", "/dns/records").json()["serial"]
    assert zone.get_rdataset(f"app.{hosted.name}.", "A")[0].address == "192.0.2.10"
    dkim_txt = next(
        rdataset
        for name, rdataset in zone.iterate_rdatasets("TXT")
        if "_domainkey" in name.to_text()
    )
    assert b"".join(dkim_txt[0].strings).startswith(b"v=DKIM1")


def test_forwarding_redirects_by_host(hosted: Hosted) -> None:
    response = hosted.call(
        "PATCH",
        json={"forwarding_url": "https://landing.example.com/offer", "forwarding_code": 302},
    )
    assert response.status_code == 200, response.text
    assert [a.address for a in hosted.served(hosted.name, "A")] == ["127.0.0.1"]
    assert hosted.served(f"www.{hosted.name}", "CNAME") or hosted.served(f"www.{hosted.name}", "A")

    for host in (hosted.name, f"www.{hosted.name}"):
        redirect = hosted.client.get("/any/path", headers={"host": host}, follow_redirects=False)
        assert redirect.status_code == 302
        assert redirect.headers["location"] == "https://landing.example.com/offer"
    # The API itself is not redirected.
    assert hosted.client.get("/health").status_code == 200

    assert hosted.call("PATCH", json={"forwarding_url": None}).status_code == 200
    assert hosted.served(hosted.name, "A") == []


def test_the_first_order_publishes_its_type(hosted: Hosted, db: Database) -> None:
    give_slots(db, hosted.caller.workspace_id, MailboxType.GOOGLE, 3)
    response = hosted.client.post(
        "/v1/mailbox-orders",
        json=order_body(hosted.name, ["alice"], "GOOGLE"),
        headers={**hosted.caller.headers},
    )
    assert response.status_code == 201, response.text
    hosted.settle()
    assert [mx.exchange.to_text() for mx in hosted.served(hosted.name, "MX")] == [
        "smtp.google.com."
    ]


def test_active_domains_get_a_periodic_health_check(hosted: Hosted, db: Database) -> None:
    _type(hosted, "SMTP")
    assert hosted.call("GET").json()["health_checked_at"] is None
    clock.advance(7 * 3600)
    runtime = hosted.client.app.state.runtime  # type: ignore[attr-defined]
    sweep(runtime)
    drain(runtime)
    stored = hosted.call("GET", "/dns/check").json()
    assert stored["checked_at"] is not None
    assert stored["drift"] is False
    assert all(r["status"] == "present" for r in stored["report"]["records"])


def test_type_is_fixed_once_mailboxes_are_ordered(hosted: Hosted, db: Database) -> None:
    give_slots(db, hosted.caller.workspace_id, MailboxType.SMTP, 5)
    order = hosted.client.post(
        "/v1/mailbox-orders",
        json=order_body(hosted.name, ["bob"], "SMTP"),
        headers=hosted.caller.headers,
    )
    assert order.status_code == 201, order.text
    response = hosted.call("PATCH", json={"mailbox_type": "GOOGLE"})
    assert response.status_code == 409
    assert response.json()["code"] == "mailbox_type_fixed"
    assert response.json()["field"] == "mailbox_type"


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"dmarc_policy": "maybe"}, "validation_error", "dmarc_policy"),
        ({"dmarc_rua": "not-an-address"}, "validation_error", "dmarc_rua"),
        ({"forwarding_url": "ftp://x"}, "validation_error", "forwarding_url"),
        ({"forwarding_code": 302}, "forwarding_url_required", "forwarding_code"),
    ],
)
def test_bad_domain_settings_are_refused(
    hosted: Hosted, body: dict[str, Any], code: str, field: str
) -> None:
    before = hosted.call("GET").json()
    response = hosted.call("PATCH", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == code
    assert response.json()["field"] == field
    assert hosted.call("GET").json() == before


def test_email_forwards_follow_the_username_rule(hosted: Hosted) -> None:
    response = hosted.call("PATCH", json={"email_forwards": {"-bad": "x@example.com"}})
    assert response.status_code == 422
    assert response.json()["field"] == "email_forwards.-bad"
    ok = hosted.call("PATCH", json={"email_forwards": {"Sales": "x@example.com"}})
    assert ok.status_code == 200, ok.text
    assert ok.json()["email_forwards"] == {"sales": "x@example.com"}
