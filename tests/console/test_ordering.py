"""Ordering mailboxes from a domain's page through the API's order service: a pasted list, the
rules' refusals next to the line they name with the list kept as typed, and nothing written."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from mailfleet.db import Database
from mailfleet.models import Domain, Mailbox, MailboxOrder, MailboxType, Role
from tests.console.conftest import csrf_of, set_password, sign_in
from tests.factories import (
    Caller,
    count_rows,
    give_slots,
    make_domain,
    make_mailbox,
    make_member,
)


@pytest.fixture
def off(make_client: Callable[..., TestClient], owner: Caller) -> TestClient:
    """The owner signed in on an app without the recent-creation rule (the domains are new)."""
    client = make_client(recent_creation_rule="off")
    sign_in(client, owner.email)
    return client


def _domain(db: Database, owner: Caller, slots: int = 10) -> Domain:
    give_slots(db, owner.workspace_id, MailboxType.GOOGLE, slots)
    return make_domain(db, owner.workspace_id, mailbox_type=MailboxType.GOOGLE)


def _order(client: TestClient, domain: Domain, pasted: str, kind: str = "GOOGLE") -> Response:
    token = csrf_of(client.get(f"/console/domains/{domain.id}").text)
    return client.post(
        f"/console/domains/{domain.id}/mailboxes",
        data={"csrf_token": token, "mailboxes": pasted, "mailbox_type": kind},
        follow_redirects=False,
    )


def _addresses(db: Database) -> set[str]:
    with db.transaction() as session:
        return {m.address for m in session.query(Mailbox)}


def test_the_form_orders_the_listed_mailboxes(off: TestClient, owner: Caller, db: Database) -> None:
    domain = _domain(db, owner)
    page = off.get(f"/console/domains/{domain.id}").text
    assert f'action="/console/domains/{domain.id}/mailboxes"' in page
    assert '<option value="GOOGLE" selected>' in page
    answer = _order(off, domain, "ada, Ada, Lovelace\nGrace Hopper\n\n")
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/console/mailboxes?q=%40{domain.name}"
    assert _addresses(db) == {f"ada@{domain.name}", f"grace.hopper@{domain.name}"}
    assert count_rows(db, MailboxOrder) == 1
    with db.transaction() as session:
        grace = session.query(Mailbox).filter(Mailbox.username == "grace.hopper").one()
        assert (grace.first_name, grace.last_name) == ("Grace", "Hopper")


def test_a_taken_username_is_shown_on_its_line_with_the_list_kept(
    off: TestClient, owner: Caller, db: Database
) -> None:
    domain = _domain(db, owner)
    make_mailbox(db, domain, username="taken")
    before = _addresses(db)
    pasted = "fresh, Fresh, One\ntaken, Taken, Two"
    answer = _order(off, domain, pasted)
    assert answer.status_code == 409
    html = answer.text
    assert "<strong>line 2 (username)</strong>" in html
    assert "already used on this domain" in html
    assert ">fresh, Fresh, One\ntaken, Taken, Two</textarea>" in html
    assert _addresses(db) == before
    assert count_rows(db, MailboxOrder) == 0


def test_an_invalid_username_and_a_missing_name_are_refused_per_line(
    off: TestClient, owner: Caller, db: Database
) -> None:
    domain = _domain(db, owner)
    bad = _order(off, domain, "ok, Ok, Box\nno spaces!, Bad, Name")
    assert bad.status_code == 422
    assert "<strong>line 2 (username)</strong>" in bad.text
    nameless = _order(off, domain, "ok, Ok, Box\nnolast, Only,")
    assert nameless.status_code == 422
    assert "<strong>line 2 (last_name)</strong>" in nameless.text
    assert count_rows(db, Mailbox) == 0


def test_the_quota_is_the_services(off: TestClient, owner: Caller, db: Database) -> None:
    domain = _domain(db, owner, slots=1)
    answer = _order(off, domain, "a, A, One\nb, B, Two")
    assert answer.status_code == 409
    assert (
        "<strong>the list</strong>: The workspace has 1 free GOOGLE slot(s); this order needs 2."
        in answer.text
    )
    assert count_rows(db, Mailbox) == 0


def test_a_viewer_has_no_form_and_its_post_is_refused(
    client: TestClient, owner: Caller, db: Database
) -> None:
    domain = _domain(db, owner)
    viewer = make_member(db, owner, Role.VIEWER)
    set_password(db, viewer.user_id)
    token = sign_in(client, viewer.email)
    page = client.get(f"/console/domains/{domain.id}").text
    assert f'action="/console/domains/{domain.id}/mailboxes"' not in page
    answer = client.post(
        f"/console/domains/{domain.id}/mailboxes",
        data={"csrf_token": token, "mailboxes": "v, V, W", "mailbox_type": "GOOGLE"},
    )
    assert answer.status_code == 403
    assert "insufficient_role" in answer.text
    assert count_rows(db, Mailbox) == 0
