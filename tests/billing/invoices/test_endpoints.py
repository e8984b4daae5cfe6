"""Invoices: listed per workspace and per subscription, read as JSON and as a printable page."""

from __future__ import annotations

from fastapi.testclient import TestClient

from mailfleet.db import Database
from tests.factories import fund_wallet, make_tenant, seed_plans


def test_invoices_are_listed_read_and_rendered(db: Database, client: TestClient) -> None:
    seed_plans(db)
    owner = make_tenant(db)
    client.put(
        f"/v1/workspaces/{owner.workspace_id}/billing",
        json={
            "company_name": "Acme <Mail> & Co",
            "contact_email": "billing@acme.test",
            "address_line1": "1 Road",
            "city": "Paris",
            "postal_code": "75001",
            "country": "FR",
        },
        headers=owner.headers,
    )
    fund_wallet(db, owner.workspace_id, 20_000)
    first = client.post(
        "/v1/subscriptions", json={"lookup_key": "google_starter_monthly"}, headers=owner.headers
    ).json()
    second = client.post(
        "/v1/subscriptions", json={"lookup_key": "smtp_starter_monthly"}, headers=owner.headers
    ).json()
    listed = client.get("/v1/invoices", headers=owner.headers).json()["items"]
    assert [i["subscription_id"] for i in listed] == [second["id"], first["id"]]
    only = client.get(
        "/v1/invoices", params={"subscription_id": first["public_id"]}, headers=owner.headers
    ).json()["items"]
    assert [i["subscription_id"] for i in only] == [first["id"]]
    invoice = client.get(f"/v1/invoices/{only[0]['id']}", headers=owner.headers).json()
    assert invoice["total_cents"] == 3900
    assert invoice["kind"] == "PURCHASE"
    assert invoice["wallet_entry_id"] is not None
    assert invoice["billing_details"]["company_name"] == "Acme <Mail> & Co"
    page = client.get(f"/v1/invoices/{invoice['id']}.html", headers=owner.headers)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert invoice["number"] in page.text
    assert "39.00 USD" in page.text
    assert "Acme &lt;Mail&gt; &amp; Co" in page.text
    assert "<Mail>" not in page.text


def test_another_workspace_sees_no_invoice(db: Database, client: TestClient) -> None:
    seed_plans(db)
    owner = make_tenant(db)
    fund_wallet(db, owner.workspace_id, 20_000)
    client.post(
        "/v1/subscriptions", json={"lookup_key": "google_starter_monthly"}, headers=owner.headers
    )
    invoice_id = client.get("/v1/invoices", headers=owner.headers).json()["items"][0]["id"]
    intruder = make_tenant(db)
    for path in (f"/v1/invoices/{invoice_id}", f"/v1/invoices/{invoice_id}.html"):
        response = client.get(path, headers=intruder.headers)
        assert response.status_code == 404
        assert response.json()["code"] == "invoice_not_found"
    assert client.get("/v1/invoices", headers=intruder.headers).json()["items"] == []
