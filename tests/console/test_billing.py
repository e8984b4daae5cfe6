"""The billing page: the wallet's balance, its newest ledger entries and the invoices, each
linking to its printable page; all of it the workspace's own, for any member."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from mailfleet.billing.charges import charge
from mailfleet.billing.invoices.service import Line
from mailfleet.db import Database
from mailfleet.models import Invoice, LedgerKind, Role
from tests.console.conftest import set_password, sign_in
from tests.factories import Caller, fund_wallet, make_member, make_tenant


def _charged(db: Database, workspace_id: uuid.UUID) -> Invoice:
    """A 79.00 charge with its invoice, as an upgrade makes one."""
    with db.transaction() as session:
        done = charge(
            session,
            workspace_id,
            kind=LedgerKind.UPGRADE,
            lines=[Line("Growth monthly", 1, 7900, 7900)],
            reason="upgrade to Growth",
            actor="user:test",
            dedupe_key=f"upgrade:{uuid.uuid4()}",
        )
        assert done.invoice is not None
        session.expunge(done.invoice)
        return done.invoice


def test_the_page_shows_balance_entries_and_invoices(
    console: TestClient, owner: Caller, db: Database
) -> None:
    fund_wallet(db, owner.workspace_id, 10_000)
    invoice = _charged(db, owner.workspace_id)
    html = console.get("/console/billing").text
    assert 'href="/console/billing"' in html
    assert '<dd id="wallet-balance">21.00 USD</dd>' in html
    ledger = html.split('<table id="ledger">')[1].split("</table>")[0]
    # Newest first: the charge, then the funding, each with the balance after it.
    assert ledger.index("upgrade to Growth") < ledger.index("test funding")
    assert "<td>-79.00 USD</td><td>21.00 USD</td>" in ledger
    assert "<td>100.00 USD</td><td>100.00 USD</td>" in ledger
    invoices = html.split('<table id="invoices">')[1]
    assert f'<a href="/console/invoices/{invoice.id}">{invoice.number}</a>' in invoices
    assert "<td>79.00 USD</td>" in invoices


def test_the_invoice_link_is_the_printable_page(
    console: TestClient, owner: Caller, db: Database
) -> None:
    fund_wallet(db, owner.workspace_id, 10_000)
    invoice = _charged(db, owner.workspace_id)
    answer = console.get(f"/console/invoices/{invoice.id}")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.text == console.get(f"/v1/invoices/{invoice.id}.html", headers=owner.headers).text
    assert "style-src 'unsafe-inline'" in answer.headers["content-security-policy"]
    assert "script-src" not in answer.headers["content-security-policy"]


def test_another_workspaces_invoice_is_not_found(console: TestClient, db: Database) -> None:
    stranger = make_tenant(db)
    fund_wallet(db, stranger.workspace_id, 10_000)
    theirs = _charged(db, stranger.workspace_id)
    answer = console.get(f"/console/invoices/{theirs.id}")
    assert answer.status_code == 404
    assert "invoice_not_found" in answer.text
    assert theirs.number not in console.get("/console/billing").text
    assert console.get("/console/invoices/nope").status_code == 404


def test_a_new_workspace_has_an_empty_page(console: TestClient) -> None:
    html = console.get("/console/billing").text
    assert '<dd id="wallet-balance">0.00 USD</dd>' in html
    assert "No ledger entries yet." in html
    assert "No invoices yet." in html


def test_a_viewer_sees_the_billing_page(client: TestClient, owner: Caller, db: Database) -> None:
    fund_wallet(db, owner.workspace_id, 500)
    viewer = make_member(db, owner, Role.VIEWER)
    set_password(db, viewer.user_id)
    sign_in(client, viewer.email)
    html = client.get("/console/billing").text
    assert '<dd id="wallet-balance">5.00 USD</dd>' in html
    assert 'method="post"' not in html.split("<main")[1]
