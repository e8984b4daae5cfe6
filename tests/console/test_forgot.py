"""'Forgot your password?': the reset link by mail through a real Postfix/Dovecot (the test
reads the mail over IMAP), the same answer for an address without an account, and no form
when the deployment has no mail relay."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from mailfleet.account.service import create_user
from mailfleet.config import Settings
from mailfleet.console.forgot import SENT
from mailfleet.console.mail import SUBJECT
from mailfleet.db import Database
from mailfleet.mailboxes.providers.base import NewMailbox
from mailfleet.mailboxes.providers.smtp import SmtpProvider
from mailfleet.models import PasswordReset
from tests.console.conftest import csrf_of, set_password, sign_in
from tests.support.mailserver import HOST, MailServer

MAILBOX_PASSWORD = "Inbox-password-42!"
NEW_PASSWORD = "A brand new password"


@pytest.fixture
def with_mail(make_client: Callable[..., TestClient], mail_server: MailServer) -> TestClient:
    return make_client(
        console_mail_host=HOST,
        console_mail_port=mail_server.smtp_port,
        console_public_url="http://testserver",
    )


def resets(db: Database) -> int:
    with db.transaction(write=False) as session:
        return int(session.scalar(select(func.count()).select_from(PasswordReset)) or 0)


def ask(client: TestClient, email: str) -> Any:
    form = client.get("/console/forgot")
    assert form.status_code == 200, form.text
    return client.post("/console/forgot", data={"csrf_token": csrf_of(form.text), "email": email})


def test_the_link_comes_by_mail_and_sets_the_password(
    db: Database,
    with_mail: TestClient,
    mail_server: MailServer,
    mail_overrides: dict[str, Any],
    unique_domain: Callable[[str], str],
) -> None:
    provider = SmtpProvider(Settings(**mail_overrides))
    domain = unique_domain("forgot")
    provider.prepare_domain(domain)
    address = f"ada@{domain}"
    provider.create_mailbox(
        NewMailbox(address=address, first_name="Ada", last_name="L", password=MAILBOX_PASSWORD)
    )
    mail_server.wait_for_recipient(address)
    with db.transaction() as session:
        user_id = create_user(session, email=address, name="Ada").id
    set_password(db, user_id, "the old password")

    assert 'href="/console/forgot"' in with_mail.get("/console/login").text
    answer = ask(with_mail, address.upper())
    assert answer.status_code == 200
    assert SENT in answer.text

    message = mail_server.wait_for_message(address, MAILBOX_PASSWORD, SUBJECT)
    body = message.get_payload(decode=True).decode()
    found = re.search(r"http://testserver(/console/reset/[A-Za-z0-9_-]+)", body)
    assert found, body
    page = with_mail.get(found.group(1))
    assert page.status_code == 200
    done = with_mail.post(
        found.group(1),
        data={
            "csrf_token": csrf_of(page.text),
            "password": NEW_PASSWORD,
            "password_again": NEW_PASSWORD,
        },
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    sign_in(with_mail, address, NEW_PASSWORD)
    assert with_mail.get(found.group(1)).status_code == 404  # used once


def test_an_unknown_address_gets_the_same_answer_and_no_link(
    db: Database, with_mail: TestClient
) -> None:
    before = resets(db)
    answer = ask(with_mail, "nobody-here@example.com")
    assert answer.status_code == 200
    assert SENT in answer.text
    assert resets(db) == before


def test_without_a_relay_there_is_no_form(client: TestClient) -> None:
    assert "/console/forgot" not in client.get("/console/login").text
    assert client.get("/console/forgot").status_code == 404
    assert client.post("/console/forgot", data={"email": "a@b.test"}).status_code == 404
