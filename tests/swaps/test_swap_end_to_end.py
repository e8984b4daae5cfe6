"""A burned domain swapped for a new one, on real servers: PowerDNS for the delegation,
Postfix/Dovecot for the mailboxes, and the Instantly fake for the sequencer. The test only
adds the delegation at the parent (the registrar's part) and runs the jobs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.jobs.worker import sweep
from mailfleet.kit import clock
from mailfleet.models import MailboxType
from tests.factories import Caller, give_slots, make_tenant, order_body
from tests.fakes.sequencers.instantly import InstantlyFake
from tests.support.dns_fixtures import PARENT_ZONE, TEST_PAIR
from tests.support.jobs import drain
from tests.support.mailserver import MailServer
from tests.support.powerdns import PowerDNS

USERS = ["ann", "bob", "cy"]


@pytest.fixture
def instantly() -> Iterator[InstantlyFake]:
    with InstantlyFake() as fake:
        yield fake


def _delegate(client: TestClient, pdns_parent: PowerDNS, name: str) -> None:
    """The customer sets the nameservers at the registrar; Mailfleet notices on its own."""
    pdns_parent.delegate(PARENT_ZONE, name, TEST_PAIR)
    clock.advance(3600)
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    sweep(runtime)
    drain(runtime)


def _credentials(client: TestClient, caller: Caller, mailboxes: list[dict[str, Any]]) -> dict:
    found = {}
    for mailbox in mailboxes:
        answer = client.get(f"/v1/mailboxes/{mailbox['id']}/credentials", headers=caller.headers)
        assert answer.status_code == 200, answer.text
        found[mailbox["username"]] = answer.json()
    return found


def test_a_swap_moves_the_mailboxes_and_the_sequencer_accounts_to_the_new_domain(
    db: Database,
    make_client: Callable[..., TestClient],
    dns_overrides: dict[str, Any],
    mail_overrides: dict[str, Any],
    pdns_parent: PowerDNS,
    mail_server: MailServer,
    unique_domain: Callable[[str], str],
    instantly: InstantlyFake,
) -> None:
    client = make_client(
        **dns_overrides,
        **mail_overrides,
        recent_creation_rule="off",
        export_instantly_base_url=instantly.base_url,
        export_backoff_seconds=[0.0],
    )
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    caller = make_tenant(db)
    # Exactly the slots the old domain's mailboxes hold: the swap must take theirs over.
    give_slots(db, caller.workspace_id, MailboxType.SMTP, len(USERS))
    burned, fresh = unique_domain("burned"), unique_domain("fresh")

    submitted = client.post("/v1/domains", json={"domains": [burned]}, headers=caller.headers)
    assert submitted.status_code == 201, submitted.text
    old_domain = submitted.json()["accepted"][0]["id"]
    drain(runtime)
    _delegate(client, pdns_parent, burned)
    order = client.post(
        "/v1/mailbox-orders", json=order_body(burned, USERS, "SMTP"), headers=caller.headers
    )
    assert order.status_code == 201, order.text
    drain(runtime)
    order = client.get(f"/v1/mailbox-orders/{order.json()['id']}", headers=caller.headers).json()
    old = _credentials(client, caller, order["mailboxes"])
    for item in old.values():
        mail_server.wait_for_login(item["address"], item["password"])

    account = client.post(
        "/v1/export-accounts",
        json={"app": "INSTANTLY", "label": "main", "credentials": {"api_key": "good-key"}},
        headers=caller.headers,
    )
    assert account.status_code == 201, account.text
    exported = client.post(
        "/v1/exports",
        json={"app": "INSTANTLY", "mailbox_ids": [m["id"] for m in order["mailboxes"]]},
        headers=caller.headers,
    )
    assert exported.status_code == 202, exported.text
    drain(runtime)
    assert sorted(instantly.accounts) == sorted(item["address"] for item in old.values())

    started = client.post(
        "/v1/domain-swaps",
        json={"from_domain_id": old_domain, "to_domain": fresh},
        headers=caller.headers,
    )
    assert started.status_code == 201, started.text
    swap = started.json()
    assert swap["status"] == "WAITING_FOR_DOMAIN"
    assert [m["username"] for m in swap["mailboxes"]] == USERS
    drain(runtime)
    _delegate(client, pdns_parent, fresh)  # the sweep finds the new domain ACTIVE, then orders
    drain(runtime)
    clock.advance(60)  # the swap looks again once the new mailboxes are made: it exports them
    sweep(runtime)
    drain(runtime)
    clock.advance(60)  # and once they are in Instantly, deletes the old accounts there
    sweep(runtime)
    drain(runtime)

    done = client.get(f"/v1/domain-swaps/{swap['id']}", headers=caller.headers).json()
    assert done["status"] == "DONE", done
    assert {m["status"] for m in done["mailboxes"]} == {"SWAPPED"}
    assert [m["new_address"] for m in done["mailboxes"]] == [f"{u}@{fresh}" for u in USERS]
    assert len(done["export_ids"]) == 1

    new = _credentials(
        client,
        caller,
        [{"id": m["new_mailbox_id"], "username": m["username"]} for m in done["mailboxes"]],
    )
    for username in USERS:
        assert new[username]["password"] != old[username]["password"]
        mail_server.wait_for_login(new[username]["address"], new[username]["password"])
        mail_server.wait_for(
            lambda u=username: not mail_server.login_works(old[u]["address"], old[u]["password"]),
            "the old mailbox's login to fail",
        )
    for mailbox in order["mailboxes"]:
        answer = client.get(f"/v1/mailboxes/{mailbox['id']}", headers=caller.headers).json()
        assert answer["status"] == "REMOVED"
    # Instantly holds the new accounts instead of the old: each once, with its own login.
    assert sorted(instantly.accounts) == sorted(item["address"] for item in new.values())
    for username in USERS:
        held = instantly.accounts[new[username]["address"]]
        assert held["smtp_password"] == new[username]["password"]
    assert sorted(instantly.deleted) == sorted(item["address"] for item in old.values())
    for item in done["mailboxes"]:
        [outcome] = item["exported_to"]
        assert outcome["old_account"] == "REMOVED"
    # The slots moved with the mailboxes: the old ones hold none now.
    account = client.get("/v1/account", headers=caller.headers).json()
    assert account["allocations"]["SMTP"]["used"] == len(USERS)
