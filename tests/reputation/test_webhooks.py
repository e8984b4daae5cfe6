"""Listings and delistings reach the customer's webhook as public events."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from standardwebhooks import Webhook

from mailfleet.db import Database
from tests.factories import make_domain, make_tenant
from tests.reputation.conftest import dnsbl_settings
from tests.reputation.dnsbl_server import DnsblServer
from tests.webhooks.receiver import receiver
from tests.webhooks.test_delivery import tick


def test_blacklisted_and_delisted_are_delivered(
    db: Database, make_client: Callable[..., TestClient], dnsbl: DnsblServer
) -> None:
    client = make_client(webhook_allow_private_addresses=True, **dnsbl_settings(dnsbl))
    owner = make_tenant(db)
    domain = make_domain(db, owner.workspace_id, name="hooked.com")
    check = f"/v1/domains/{domain.id}/reputation/check"
    with receiver() as hook:
        created = client.post(
            "/v1/webhooks",
            json={"url": hook.url, "events": ["domain.blacklisted", "domain.delisted"]},
            headers=owner.headers,
        )
        assert created.status_code == 201, created.text
        secret = created.json()["secret"]

        dnsbl.list("hooked.com.dbl.test", "127.0.1.2", "Spam domain")
        assert client.post(check, headers=owner.headers).status_code == 200
        tick(client)
        dnsbl.delist("hooked.com.dbl.test")
        assert client.post(check, headers=owner.headers).status_code == 200
        tick(client)

    payloads = [Webhook(secret).verify(r.body, r.headers) for r in hook.received]
    assert [p["type"] for p in payloads] == ["domain.blacklisted", "domain.delisted"]
    listed, delisted = (p["data"] for p in payloads)
    assert listed["domain_id"] == str(domain.id)
    assert listed["workspace_id"] == str(owner.workspace_id)
    assert (listed["zone"], listed["return_code"], listed["reason"]) == (
        "dbl.test",
        "127.0.1.2",
        "Spam domain",
    )
    assert delisted["domain_id"] == str(domain.id)
    assert (delisted["zone"], delisted["return_code"]) == ("dbl.test", "127.0.1.2")
