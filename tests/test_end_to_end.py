"""From a domain name to working mailboxes, on real servers: PowerDNS (parent and child zones),
Postfix and Dovecot. Only the registrar's part, adding the delegation at the parent, is done
by the test; everything else runs through the API and the jobs.
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.jobs.worker import sweep
from mailfleet.kit import clock
from mailfleet.models import MailboxType
from tests.factories import give_slots, make_tenant, order_body
from tests.support.dns_fixtures import PARENT_ZONE, TEST_PAIR
from tests.support.jobs import drain
from tests.support.mailserver import MailServer
from tests.support.powerdns import PowerDNS

USERS = ["ann", "bob", "cy", "dee", "eve"]


def _send(server: MailServer, creds: dict[str, Any], to: str, subject: str) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = creds["address"], to, subject
    message.set_content("Hello from the end-to-end test.")
    with server.submission(creds["address"], creds["password"]) as client:
        client.send_message(message)


def test_domain_to_working_mailboxes(
    db: Database,
    make_client: Callable[..., TestClient],
    dns_overrides: dict[str, Any],
    mail_overrides: dict[str, Any],
    pdns_parent: PowerDNS,
    mail_server: MailServer,
    unique_domain: Callable[[str], str],
) -> None:
    client = make_client(**dns_overrides, **mail_overrides, recent_creation_rule="off")
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    caller = make_tenant(db)
    give_slots(db, caller.workspace_id, MailboxType.SMTP, 5)
    name = unique_domain("e2e")

    submitted = client.post("/v1/domains", json={"domains": [name]}, headers=caller.headers)
    assert submitted.status_code == 201, submitted.text
    domain_id = submitted.json()["accepted"][0]["id"]
    drain(runtime)
    assert (
        client.get(f"/v1/domains/{domain_id}", headers=caller.headers).json()["status"]
        == "PENDING_NS"
    )

    # The customer sets the nameservers at the registrar; Mailfleet notices on its own.
    pdns_parent.delegate(PARENT_ZONE, name, TEST_PAIR)
    clock.advance(3600)
    sweep(runtime)
    drain(runtime)
    assert (
        client.get(f"/v1/domains/{domain_id}", headers=caller.headers).json()["status"] == "ACTIVE"
    )

    order = client.post(
        "/v1/mailbox-orders", json=order_body(name, USERS, "SMTP"), headers=caller.headers
    )
    assert order.status_code == 201, order.text
    drain(runtime)
    order = client.get(f"/v1/mailbox-orders/{order.json()['id']}", headers=caller.headers).json()
    assert order["status"] == "COMPLETED"
    assert {m["status"] for m in order["mailboxes"]} == {"ACTIVE"}

    creds = {}
    for mailbox in order["mailboxes"]:
        response = client.get(f"/v1/mailboxes/{mailbox['id']}/credentials", headers=caller.headers)
        assert response.status_code == 200, response.text
        creds[mailbox["username"]] = response.json()
    for item in creds.values():
        assert item["imap_port"] == mail_server.imap_port
        assert item["smtp_port"] == mail_server.submission_port
        mail_server.wait_for_login(item["address"], item["password"])
        with mail_server.submission(item["address"], item["password"]):
            pass  # SMTP AUTH accepted
        mail_server.wait_for_recipient(item["address"])

    _send(mail_server, creds["ann"], creds["bob"]["address"], "ann to bob")
    received = mail_server.wait_for_message(
        creds["bob"]["address"], creds["bob"]["password"], "ann to bob"
    )
    assert received["From"] == creds["ann"]["address"]

    # A catch-all delivers mail for unknown addresses to one mailbox; a forward sends one
    # address's mail to another.
    patched = client.patch(
        f"/v1/domains/{domain_id}",
        json={
            "catch_all_target": creds["cy"]["address"],
            "email_forwards": {"sales": creds["dee"]["address"]},
        },
        headers=caller.headers,
    )
    assert patched.status_code == 200, patched.text
    drain(runtime)
    mail_server.wait_for_recipient(f"nobody@{name}")
    _send(mail_server, creds["ann"], f"nobody@{name}", "to nobody")
    mail_server.wait_for_message(creds["cy"]["address"], creds["cy"]["password"], "to nobody")
    _send(mail_server, creds["ann"], f"sales@{name}", "to sales")
    mail_server.wait_for_message(creds["dee"]["address"], creds["dee"]["password"], "to sales")
    # Mail to a real mailbox still reaches it, not the catch-all.
    _send(mail_server, creds["ann"], creds["bob"]["address"], "still bob")
    mail_server.wait_for_message(creds["bob"]["address"], creds["bob"]["password"], "still bob")

    # Removing a mailbox makes its login fail.
    eve = next(m for m in order["mailboxes"] if m["username"] == "eve")
    removed = client.delete(f"/v1/mailboxes/{eve['id']}", headers=caller.headers)
    assert removed.status_code == 200, removed.text
    drain(runtime)
    mail_server.wait_for(
        lambda: not mail_server.login_works(creds["eve"]["address"], creds["eve"]["password"]),
        "the removed mailbox's login to fail",
    )
    try:
        mail_server.submission(creds["eve"]["address"], creds["eve"]["password"])
        raise AssertionError("SMTP AUTH still works for a removed mailbox")
    except smtplib.SMTPAuthenticationError:
        pass
