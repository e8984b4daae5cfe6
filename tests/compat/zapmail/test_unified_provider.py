"""Both readings of Zapmail's "unified provider" change: reads return Google and Microsoft
objects together, each with its serviceProvider (the default), or, with
MAILFLEET_ZAPMAIL_UNIFIED_PROVIDER=false, reads narrowed to x-service-provider (GOOGLE when
absent), totals included."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.models import MailboxType
from tests.factories import Caller, give_slots, make_domain, make_mailbox, make_tenant

API = "/zapmail/api/v2"


def _workspace(db: Database) -> Caller:
    owner = make_tenant(db)
    give_slots(db, owner.workspace_id, MailboxType.GOOGLE, 10)
    give_slots(db, owner.workspace_id, MailboxType.MICROSOFT, 4)
    google = make_domain(db, owner.workspace_id, name="g-one.com", mailbox_type=MailboxType.GOOGLE)
    microsoft = make_domain(
        db, owner.workspace_id, name="m-one.com", mailbox_type=MailboxType.MICROSOFT
    )
    make_domain(db, owner.workspace_id, name="u-untyped.com")
    for _ in range(2):
        make_mailbox(db, google, mailbox_type=MailboxType.GOOGLE)
    make_mailbox(db, microsoft, mailbox_type=MailboxType.MICROSOFT)
    return owner


def _get(client: TestClient, owner: Caller, path: str, provider: str | None = None) -> Any:
    headers = dict(owner.zapmail_headers)
    if provider:
        headers["x-service-provider"] = provider
    response = client.get(f"{API}{path}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_unified_reads_return_both_providers_whatever_the_header(
    db: Database, client: TestClient
) -> None:
    owner = _workspace(db)

    for provider in (None, "MICROSOFT"):
        mailboxes = _get(client, owner, "/mailboxes/list", provider)
        kinds = {m["serviceProvider"] for d in mailboxes["domains"] for m in d["mailboxes"]}
        assert kinds == {"GOOGLE", "MICROSOFT"}
        assert (mailboxes["purchasedMailboxes"], mailboxes["totalAssignedMailboxes"]) == (14, 3)
        domains = _get(client, owner, "/domains", provider)["domains"]
        assert {d["domain"]: d["serviceProvider"] for d in domains} == {
            "g-one.com": "GOOGLE",
            "m-one.com": "MICROSOFT",
            "u-untyped.com": None,
        }


def test_narrowed_reads_follow_the_header_and_default_to_google(
    db: Database, make_client: Callable[..., TestClient]
) -> None:
    client = make_client(zapmail_unified_provider=False)
    owner = _workspace(db)

    google = _get(client, owner, "/mailboxes/list")
    microsoft = _get(client, owner, "/mailboxes/list", "MICROSOFT")

    assert [d["domain"] for d in google["domains"]] == ["g-one.com"]
    assert (google["purchasedMailboxes"], google["totalAssignedMailboxes"]) == (10, 2)
    assert [d["domain"] for d in microsoft["domains"]] == ["m-one.com"]
    assert (microsoft["purchasedMailboxes"], microsoft["availableMailboxes"]) == (4, 3)
    assert {m["serviceProvider"] for m in microsoft["domains"][0]["mailboxes"]} == {"MICROSOFT"}
    # A domain without a type yet is a Google one until its first mailboxes say otherwise.
    assert [d["domain"] for d in _get(client, owner, "/domains")["domains"]] == [
        "g-one.com",
        "u-untyped.com",
    ]
    assert [
        d["domain"] for d in _get(client, owner, "/domains/assignable", "MICROSOFT")["domains"]
    ] == ["m-one.com"]
    searched = client.post(
        f"{API}/domains",
        json={"status": "ACTIVE"},
        headers={**owner.zapmail_headers, "x-service-provider": "microsoft"},
    )
    assert [d["domain"] for d in searched.json()["data"]["domains"]] == ["m-one.com"]
