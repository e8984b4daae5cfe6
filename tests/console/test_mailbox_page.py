"""One mailbox's page: its facts, the credentials revealed only by a posted form, and the
authenticator's live code (the JSON the page's script polls). A VIEWER sees none of the secrets."""

from __future__ import annotations

import uuid

import pyotp
from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.kit import clock
from mailfleet.kit.crypto import SecretBox
from mailfleet.models import Event, Mailbox, MailboxStatus, Role
from tests.console.conftest import csrf_of, set_password, sign_in
from tests.factories import Caller, count_rows, make_domain, make_mailbox, make_member, make_tenant

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
PASSWORD = "Mailbox-pass-1"


def _with_secrets(db: Database, client: TestClient, mailbox_id: uuid.UUID) -> None:
    """As a fulfilled mailbox holds them: password, app password, servers, authenticator."""
    box: SecretBox = client.app.state.secrets  # type: ignore[attr-defined]
    with db.transaction() as session:
        mailbox = session.get_one(Mailbox, mailbox_id)
        mailbox.password_enc = box.encrypt(PASSWORD)
        mailbox.app_password_enc = box.encrypt("abcd efgh ijkl mnop")
        mailbox.totp_secret_enc = box.encrypt(SECRET)
        mailbox.smtp_host, mailbox.smtp_port = "smtp.example.com", 587


def _valid_now(code: str) -> bool:
    return pyotp.TOTP(SECRET).verify(code, for_time=int(clock.now().timestamp()), valid_window=1)


def test_the_list_links_each_mailbox_to_its_page(
    console: TestClient, owner: Caller, db: Database
) -> None:
    mailbox_id = make_mailbox(db, make_domain(db, owner.workspace_id, name="linked.com"))
    assert f'href="/console/mailboxes/{mailbox_id}"' in console.get("/console/mailboxes").text


def test_the_page_shows_the_facts_and_hides_the_password_until_revealed(
    console: TestClient, owner: Caller, db: Database
) -> None:
    domain = make_domain(db, owner.workspace_id, name="facts.com")
    mailbox_id = make_mailbox(db, domain, username="ada")
    _with_secrets(db, console, mailbox_id)
    answer = console.get(f"/console/mailboxes/{mailbox_id}")
    assert answer.status_code == 200
    html = answer.text
    assert "<h1>ada@facts.com</h1>" in html
    assert '<dd id="mailbox-status">ACTIVE</dd>' in html
    assert f'<a href="/console/domains/{domain.id}">facts.com</a>' in html
    assert "<dd>GOOGLE</dd>" in html
    with db.transaction() as session:
        expires = session.get_one(Mailbox, mailbox_id).expires_at
    assert expires.strftime("%Y-%m-%d %H:%M UTC") in html
    assert PASSWORD not in html
    assert f'action="/console/mailboxes/{mailbox_id}/reveal"' in html
    assert answer.headers["cache-control"] == "no-store"


def test_reveal_shows_the_credentials_and_records_no_event_as_the_api(
    console: TestClient, owner: Caller, db: Database
) -> None:
    mailbox_id = make_mailbox(db, make_domain(db, owner.workspace_id))
    _with_secrets(db, console, mailbox_id)
    token = csrf_of(console.get(f"/console/mailboxes/{mailbox_id}").text)
    events_before = count_rows(db, Event)
    answer = console.post(f"/console/mailboxes/{mailbox_id}/reveal", data={"csrf_token": token})
    assert answer.status_code == 200
    assert f'data-copy="{PASSWORD}"' in answer.text
    assert "abcd efgh ijkl mnop" in answer.text
    assert "smtp.example.com:587" in answer.text
    # GET /v1/mailboxes/{id}/credentials audits nothing; the console's reveal does the same.
    assert count_rows(db, Event) == events_before


def test_reveal_without_the_forms_token_is_refused(
    console: TestClient, owner: Caller, db: Database
) -> None:
    mailbox_id = make_mailbox(db, make_domain(db, owner.workspace_id))
    _with_secrets(db, console, mailbox_id)
    answer = console.post(f"/console/mailboxes/{mailbox_id}/reveal", data={"csrf_token": "x"})
    assert answer.status_code == 403
    assert "csrf_failed" in answer.text
    assert PASSWORD not in answer.text


def test_reveal_of_a_mailbox_not_active_yet_says_why(
    console: TestClient, owner: Caller, db: Database
) -> None:
    mailbox_id = make_mailbox(
        db, make_domain(db, owner.workspace_id), status=MailboxStatus.PROVISIONING
    )
    token = csrf_of(console.get(f"/console/mailboxes/{mailbox_id}").text)
    answer = console.post(f"/console/mailboxes/{mailbox_id}/reveal", data={"csrf_token": token})
    assert answer.status_code == 200
    assert "no credentials yet" in answer.text


def test_the_live_code_is_on_the_page_and_in_its_json(
    console: TestClient, owner: Caller, db: Database
) -> None:
    mailbox_id = make_mailbox(db, make_domain(db, owner.workspace_id))
    _with_secrets(db, console, mailbox_id)
    html = console.get(f"/console/mailboxes/{mailbox_id}").text
    assert f'data-totp-url="/console/api/mailboxes/{mailbox_id}/totp"' in html
    shown = html.split('<code id="totp-code">')[1].split("</code>")[0]
    assert _valid_now(shown)
    answer = console.get(f"/console/api/mailboxes/{mailbox_id}/totp")
    assert answer.status_code == 200
    body = answer.json()
    assert list(body) == ["code", "expires_in", "period"]
    assert _valid_now(body["code"])
    assert isinstance(body["expires_in"], int)
    assert 1 <= body["expires_in"] <= 30
    assert body["period"] == 30
    assert answer.headers["cache-control"] == "no-store"


def test_a_mailbox_without_an_authenticator_has_no_code(
    console: TestClient, owner: Caller, db: Database
) -> None:
    mailbox_id = make_mailbox(db, make_domain(db, owner.workspace_id))
    assert 'id="totp"' not in console.get(f"/console/mailboxes/{mailbox_id}").text
    answer = console.get(f"/console/api/mailboxes/{mailbox_id}/totp")
    assert answer.status_code == 409
    assert answer.json()["code"] == "no_totp_secret"


def test_another_workspaces_mailbox_is_not_found(console: TestClient, db: Database) -> None:
    stranger = make_tenant(db)
    theirs = make_mailbox(db, make_domain(db, stranger.workspace_id))
    _with_secrets(db, console, theirs)
    assert console.get(f"/console/mailboxes/{theirs}").status_code == 404
    assert console.get("/console/mailboxes/not-a-uuid").status_code == 404
    answer = console.get(f"/console/api/mailboxes/{theirs}/totp")
    assert answer.status_code == 404
    assert answer.json()["code"] == "mailbox_not_found"


def test_a_viewer_sees_the_mailbox_but_never_its_secrets(
    client: TestClient, owner: Caller, db: Database
) -> None:
    mailbox_id = make_mailbox(db, make_domain(db, owner.workspace_id))
    _with_secrets(db, client, mailbox_id)
    viewer = make_member(db, owner, Role.VIEWER)
    set_password(db, viewer.user_id)
    token = sign_in(client, viewer.email)
    html = client.get(f"/console/mailboxes/{mailbox_id}").text
    assert '<dd id="mailbox-status">ACTIVE</dd>' in html
    assert "/reveal" not in html
    assert 'id="totp"' not in html
    answer = client.post(f"/console/mailboxes/{mailbox_id}/reveal", data={"csrf_token": token})
    assert answer.status_code == 403
    assert "insufficient_role" in answer.text
    assert PASSWORD not in answer.text
    code = client.get(f"/console/api/mailboxes/{mailbox_id}/totp")
    assert code.status_code == 403
    assert code.json()["code"] == "insufficient_role"
