"""The overview page: slots per type, domains and mailboxes by status, the wallet, what needs
attention, and the workspace switcher."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.models import DomainStatus, MailboxStatus, MailboxType, Membership, Role
from tests.console.conftest import csrf_of, set_password, sign_in
from tests.factories import (
    Caller,
    fund_wallet,
    give_slots,
    make_domain,
    make_mailbox,
    make_tenant,
    make_user,
)


def _cell(html: str, attribute: str, value: str) -> str:
    found = re.search(rf'{attribute}="{value}">(\d+)<', html)
    assert found, f"no {attribute}={value} on the page"
    return found.group(1)


def test_overview_counts_slots_domains_and_mailboxes(
    console: TestClient, owner: Caller, db: Database
) -> None:
    give_slots(db, owner.workspace_id, MailboxType.GOOGLE, 5)
    active = make_domain(db, owner.workspace_id, mailbox_type=MailboxType.GOOGLE)
    make_domain(db, owner.workspace_id, status=DomainStatus.PENDING_NS)
    make_mailbox(db, active)
    make_mailbox(db, active, status=MailboxStatus.FAILED)
    page = console.get("/console/")
    assert page.status_code == 200
    row = re.search(r'data-slot-type="GOOGLE"><th scope="row">GOOGLE</th>(.*?)</tr>', page.text)
    # billing.slots' figures: a FAILED mailbox holds no slot.
    assert row
    assert row.group(1) == "<td>5</td><td>1</td><td>4</td>"
    assert _cell(page.text, "data-domain-count", "ACTIVE") == "1"
    assert _cell(page.text, "data-domain-count", "PENDING_NS") == "1"
    assert _cell(page.text, "data-mailbox-count", "ACTIVE") == "1"
    assert _cell(page.text, "data-mailbox-count", "FAILED") == "1"


def test_overview_lists_what_needs_attention(
    console: TestClient, owner: Caller, db: Database
) -> None:
    waiting = make_domain(db, owner.workspace_id, status=DomainStatus.PENDING_NS)
    active = make_domain(db, owner.workspace_id, mailbox_type=MailboxType.GOOGLE)
    make_mailbox(db, active, status=MailboxStatus.FAILED)
    fund_wallet(db, owner.workspace_id, 500)
    page = console.get("/console/").text
    table = page[page.index('id="waiting-domains"') :]
    assert waiting.name in table
    assert 'data-copy="ns1.mailfleet.local"' in table
    assert 'data-copy="ns2.mailfleet.local"' in table
    assert 'id="failed-mailboxes"' in page
    assert 'id="low-balance"' in page
    assert "5.00 USD" in page


def test_a_quiet_workspace_needs_nothing(console: TestClient, owner: Caller, db: Database) -> None:
    fund_wallet(db, owner.workspace_id, 10_000)
    page = console.get("/console/").text
    assert "Nothing needs attention." in page
    assert "100.00 USD" in page


def test_the_switcher_moves_between_the_users_workspaces(
    client: TestClient, owner: Caller, db: Database
) -> None:
    other = make_tenant(db)
    with db.transaction() as session:
        session.add(
            Membership(workspace_id=other.workspace_id, user_id=owner.user_id, role=Role.VIEWER)
        )
    make_domain(db, other.workspace_id, status=DomainStatus.PENDING_NS)
    token = sign_in(client, owner.email)
    first = client.get("/console/").text
    assert 'id="workspace-switch"' in first
    assert _cell(first, "data-domain-count", "PENDING_NS") == "0"
    answer = client.post(
        "/console/workspace",
        data={"csrf_token": token, "workspace_id": str(other.workspace_id)},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    second = client.get("/console/").text
    assert _cell(second, "data-domain-count", "PENDING_NS") == "1"


def test_the_switcher_refuses_a_workspace_the_user_is_not_in(
    console: TestClient, owner: Caller, db: Database
) -> None:
    stranger = make_tenant(db)
    token = csrf_of(console.get("/console/").text)
    answer = console.post(
        "/console/workspace",
        data={"csrf_token": token, "workspace_id": str(stranger.workspace_id)},
        follow_redirects=False,
    )
    assert answer.status_code == 404
    assert "mf_console_workspace" not in answer.headers.get("set-cookie", "")
    # A workspace cookie forged by hand is no way in either: back to the user's own.
    console.cookies.set("mf_console_workspace", str(stranger.workspace_id), path="/console/")
    forged = console.get("/console/", follow_redirects=False)
    assert forged.status_code == 303
    assert forged.headers["location"] == "/console/"


def test_a_member_without_a_password_cannot_sign_in(client: TestClient, db: Database) -> None:
    # Users made without --password have no password hash.
    tenant = make_tenant(db)
    form = client.get("/console/login")
    answer = client.post(
        "/console/login",
        data={"csrf_token": csrf_of(form.text), "email": tenant.email, "password": ""},
    )
    assert answer.status_code == 401
    set_password(db, tenant.user_id)


def test_a_user_in_no_workspace_sees_that_rather_than_an_error(
    client: TestClient, db: Database
) -> None:
    loner = make_user(db)
    set_password(db, loner.id)
    sign_in(client, loner.email)
    page = client.get("/console/")
    assert page.status_code == 200
    assert 'id="no-workspace"' in page.text
    assert client.get("/console/domains").status_code == 404
