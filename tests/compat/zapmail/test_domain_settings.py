"""Zapmail's bulk domain settings: DMARC, web and email forwarding, catch-all, client ids,
auto-renew (per domain and per workspace), removing unused domains, and tags.

Each call takes `domainIds` or the list's filters; a call that fails changes nothing."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from mailfleet.db import Database
from mailfleet.models import Domain, DomainSource, DomainStatus, Event, MailboxType, Role, Workspace
from tests.factories import Caller, make_domain, make_mailbox, make_member, make_tenant

API = "/zapmail/api/v2"


def _post(client: TestClient, caller: Caller, path: str, body: Any, method: str = "POST") -> Any:
    return client.request(method, f"{API}{path}", json=body, headers=caller.zapmail_headers)


def _native(client: TestClient, caller: Caller, domain: Domain | str) -> dict[str, Any]:
    domain_id = domain if isinstance(domain, str) else domain.id
    response = client.get(f"/v1/domains/{domain_id}", headers=caller.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _column(db: Database, domain: Domain, name: str) -> Any:
    with db.transaction(write=False) as session:
        return getattr(session.get(Domain, domain.id), name)


def _set(db: Database, domain: Domain, **values: Any) -> None:
    with db.transaction() as session:
        session.execute(update(Domain).where(Domain.id == domain.id).values(**values))


def _done(response: Any, message: str) -> None:
    assert response.status_code == 200, response.text
    assert response.json() == {"status": 200, "message": message, "data": None}


def test_dmarc_by_ids_sets_the_report_address_and_publishes_the_record(
    db: Database, client: TestClient
) -> None:
    owner = make_tenant(db)
    submitted = client.post(
        "/v1/domains",
        json={"domains": ["dmarc-one.com"], "mailbox_type": "GOOGLE"},
        headers=owner.headers,
    )
    domain_id = submitted.json()["accepted"][0]["id"]
    # The verify call makes the zone (the delegation itself is not there on loopback).
    client.post(f"/v1/domains/{domain_id}/verify", headers=owner.headers)

    response = _post(
        client, owner, "/domains/dmarc", {"domainIds": [domain_id], "email": "rua@example.com"}
    )

    _done(response, "DMARC record added successfully")
    assert _native(client, owner, domain_id)["dmarc_rua"] == "mailto:rua@example.com"
    records = client.get(f"/v1/domains/{domain_id}/dns/records", headers=owner.headers).json()
    [dmarc] = [r for r in records["items"] if r["name"].startswith("_dmarc.")]
    assert "rua=mailto:rua@example.com" in dmarc["content"]
    listed = client.get(f"{API}/domains", headers=owner.zapmail_headers).json()["data"]
    [item] = listed["domains"]
    assert (item["dmarcEmail"], item["dmarcEmailAddedToReseller"]) == ("rua@example.com", True)


def test_dmarc_by_filter_changes_only_the_picked_domains(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    picked = make_domain(db, owner.workspace_id, name="brand-alpha.com")
    other = make_domain(db, owner.workspace_id, name="other-beta.com")
    waiting = make_domain(db, owner.workspace_id, name="brand-wait.com", status=DomainStatus.QUEUED)

    body = {"contains": "brand", "status": "ACTIVE", "email": "d@example.com"}
    _done(_post(client, owner, "/domains/dmarc", body), "DMARC record added successfully")

    assert _column(db, picked, "dmarc_rua") == "mailto:d@example.com"
    assert _column(db, other, "dmarc_rua") is None
    assert _column(db, waiting, "dmarc_rua") is None


def test_a_bulk_call_naming_an_unknown_domain_changes_none(
    db: Database, client: TestClient
) -> None:
    owner = make_tenant(db)
    mine = make_domain(db, owner.workspace_id)
    stranger = make_domain(db, make_tenant(db).workspace_id)
    body = {"domainIds": [str(mine.id), str(stranger.id)], "email": "d@example.com"}

    response = _post(client, owner, "/domains/dmarc", body)

    assert response.status_code == 404, response.text
    assert response.json()["code"] == "domain_not_found"
    assert response.json()["field"] == "domainIds"
    assert str(stranger.id) in response.json()["message"]
    assert stranger.name not in response.text
    assert _column(db, mine, "dmarc_rua") is None


def test_a_bulk_call_without_ids_or_filters_is_refused(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    domain = make_domain(db, owner.workspace_id)

    response = _post(client, owner, "/domains/dmarc", {"email": "d@example.com"})
    bad_email = _post(
        client, owner, "/domains/dmarc", {"domainIds": [str(domain.id)], "email": "x"}
    )
    bad_status = _post(client, owner, "/domains/dmarc", {"status": "LIVE", "email": "d@ex.com"})

    assert (response.status_code, response.json()["field"]) == (422, "domainIds")
    assert (bad_email.status_code, bad_email.json()["field"]) == (422, "email")
    assert (bad_status.status_code, bad_status.json()["field"]) == (422, "status")
    assert _column(db, domain, "dmarc_rua") is None


def test_forwarding_takes_a_bare_domain_and_shows_it_back(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    domain = make_domain(db, owner.workspace_id, name="fwd-source.com")

    body = {"domainIds": [str(domain.id)], "forwardTo": "destination.com"}
    _done(_post(client, owner, "/domains/forwarding", body), "Domain forwarding added successfully")
    refused = _post(client, owner, "/domains/forwarding", {**body, "forwardTo": "not a host"})

    assert _native(client, owner, domain)["forwarding_url"] == "https://destination.com/"
    assert _native(client, owner, domain)["forwarding_code"] == 301
    [item] = client.get(f"{API}/domains", headers=owner.zapmail_headers).json()["data"]["domains"]
    assert (item["forwardTo"], item["forwardToAddedOnReseller"]) == ("destination.com", True)
    assert (refused.status_code, refused.json()["field"]) == (422, "forwardTo")
    assert _native(client, owner, domain)["forwarding_url"] == "https://destination.com/"


def test_email_forwarding_covers_the_domains_mailboxes_and_is_removed(
    db: Database, client: TestClient
) -> None:
    owner = make_tenant(db)
    domain = make_domain(db, owner.workspace_id, mailbox_type=MailboxType.GOOGLE)
    empty = make_domain(db, owner.workspace_id, mailbox_type=MailboxType.GOOGLE)
    make_mailbox(db, domain, username="anna")
    make_mailbox(db, domain, username="ben")
    ids = [str(domain.id), str(empty.id)]

    enabled = _post(
        client, owner, "/domains/email-forwarding", {"domainIds": ids, "email": "all@copy.com"}
    )

    _done(enabled, "Email forwarding enabled successfully")
    assert _native(client, owner, domain)["email_forwards"] == {
        "anna": "all@copy.com",
        "ben": "all@copy.com",
    }
    assert _native(client, owner, empty)["email_forwards"] == {}
    removed = _post(client, owner, "/domains/email-forwarding", {"domainIds": ids}, method="DELETE")
    _done(removed, "Email forwarding removed successfully")
    assert _native(client, owner, domain)["email_forwards"] == {}


def test_catch_all_on_and_off(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    domain = make_domain(db, owner.workspace_id, mailbox_type=MailboxType.SMTP)
    ids = {"domainIds": [str(domain.id)]}

    on = _post(client, owner, "/domains/catch-all", {**ids, "email": "catch@example.com"})
    _done(on, "Catch all enabled successfully")
    assert _native(client, owner, domain)["catch_all_target"] == "catch@example.com"

    off = _post(client, owner, "/domains/catch-all", ids, method="DELETE")
    _done(off, "Catch all removed successfully")
    assert _native(client, owner, domain)["catch_all_target"] is None


def test_client_id_is_kept_per_app_and_microsoft_domains_refuse_it(
    db: Database, client: TestClient
) -> None:
    owner = make_tenant(db)
    google = make_domain(db, owner.workspace_id, mailbox_type=MailboxType.GOOGLE)
    microsoft = make_domain(db, owner.workspace_id, mailbox_type=MailboxType.MICROSOFT)
    body = {"domainIds": [str(google.id)], "clientId": "1-a.apps.googleusercontent.com"}

    _done(
        _post(client, owner, "/domains/add-client-id", {**body, "app": "instantly"}),
        "Client ID added successfully",
    )
    _post(client, owner, "/domains/add-client-id", {**body, "app": "SMARTLEAD", "clientId": "2"})
    both = {**body, "domainIds": [str(google.id), str(microsoft.id)], "app": "EMAILBISON"}
    refused = _post(client, owner, "/domains/add-client-id", both)

    assert _column(db, google, "google_client_ids") == {
        "INSTANTLY": "1-a.apps.googleusercontent.com",
        "SMARTLEAD": "2",
    }
    assert refused.status_code == 400, refused.text
    assert refused.json()["code"] == "client_id_google_only"
    assert "EMAILBISON" not in _column(db, google, "google_client_ids")
    assert _column(db, microsoft, "google_client_ids") is None


def _bought(db: Database, workspace_id: uuid.UUID, **kwargs: Any) -> Domain:
    domain = make_domain(db, workspace_id, **kwargs)
    _set(db, domain, source=DomainSource.PURCHASED)
    return domain


def test_auto_renew_applies_to_active_domains_bought_here(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    bought = _bought(db, owner.workspace_id, name="bought-one.com")
    connected = make_domain(db, owner.workspace_id, name="bought-not.com")

    named = _post(
        client,
        owner,
        "/domains/update-auto-renew",
        {"domainIds": [str(bought.id), str(connected.id)], "autoRenew": False},
    )
    assert named.status_code == 400, named.text
    assert named.json()["code"] == "auto_renew_not_applicable"
    assert _column(db, bought, "auto_renew") is True

    by_filter = {"contains": "bought", "autoRenew": False}
    _done(
        _post(client, owner, "/domains/update-auto-renew", by_filter),
        "Auto renew preference updated successfully",
    )
    assert _column(db, bought, "auto_renew") is False
    assert _column(db, connected, "auto_renew") is True


def test_workspace_renewal_settings_cover_every_bought_domain(
    db: Database, client: TestClient
) -> None:
    owner = make_tenant(db)
    bought = _bought(db, owner.workspace_id)
    pending = _bought(db, owner.workspace_id, status=DomainStatus.PENDING_NS)
    connected = make_domain(db, owner.workspace_id)
    editor = make_member(db, owner, Role.EDITOR)
    body = {"domainRenewalSettings": False}
    path = "/workspaces/update-domain-renewal-settings"

    refused = _post(client, editor, path, body)
    assert refused.status_code == 403, refused.text
    assert _column(db, bought, "auto_renew") is True

    _done(_post(client, owner, path, body), "Domain renewal settings updated successfully")

    assert (_column(db, bought, "auto_renew"), _column(db, pending, "auto_renew")) == (False, False)
    assert _column(db, connected, "auto_renew") is True
    with db.transaction(write=False) as session:
        workspace = session.get(Workspace, owner.workspace_id)
        assert workspace is not None
        assert workspace.settings["domain_auto_renew"] is False


def test_remove_unused_domains_follows_rule_r12(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    unused = make_domain(db, owner.workspace_id)
    bought = _bought(db, owner.workspace_id)
    busy = make_domain(db, owner.workspace_id, mailbox_type=MailboxType.GOOGLE)
    make_mailbox(db, busy)

    with_bought = _post(
        client, owner, "/domains", {"ids": [str(unused.id), str(bought.id)]}, method="DELETE"
    )
    with_busy = _post(
        client, owner, "/domains", {"ids": [str(unused.id), str(busy.id)]}, method="DELETE"
    )
    assert (with_bought.status_code, with_bought.json()["code"]) == (400, "domain_purchased")
    assert (with_busy.status_code, with_busy.json()["code"]) == (400, "domain_has_mailboxes")
    assert _column(db, unused, "status") == DomainStatus.ACTIVE

    removed = _post(client, owner, "/domains", {"ids": [str(unused.id)]}, method="DELETE")
    _done(removed, "Domains removed successfully")
    assert _column(db, unused, "status") == DomainStatus.REMOVED
    listed = client.get(f"{API}/domains", headers=owner.zapmail_headers).json()["data"]["domains"]
    assert str(unused.id) not in {item["id"] for item in listed}
    empty = _post(client, owner, "/domains", {"ids": []}, method="DELETE")
    assert (empty.status_code, empty.json()["field"]) == (422, "ids")


def test_tags_are_listed_with_their_domain_counts(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    for tags in (["warm", "eu"], ["warm"], []):
        _set(db, make_domain(db, owner.workspace_id), tags=tags)
    _set(db, make_domain(db, make_tenant(db).workspace_id), tags=["secret-tag"])

    response = client.get(f"{API}/domains/tags", headers=owner.zapmail_headers)

    assert response.status_code == 200, response.text
    assert response.json()["message"] == "Domain tags fetched successfully"
    assert response.json()["data"] == [
        {"id": "eu", "name": "eu", "domainCount": "1"},
        {"id": "warm", "name": "warm", "domainCount": "2"},
    ]
    by_tag = client.post(
        f"{API}/domains", json={"tagIds": ["eu"]}, headers=owner.zapmail_headers
    ).json()["data"]
    assert by_tag["totalSearchedCount"] == 1


def test_the_settings_changed_are_recorded_as_events(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    domains = [make_domain(db, owner.workspace_id, name=f"evt-{i}.com") for i in range(3)]
    body = {"domainIds": [str(d.id) for d in domains], "email": "r@example.com"}
    _post(client, owner, "/domains/dmarc", body)

    with db.transaction(write=False) as session:
        subjects = set(
            session.scalars(
                select(Event.subject_id).where(
                    Event.type == "domain.settings_changed",
                    Event.workspace_id == owner.workspace_id,
                )
            )
        )
    assert subjects == {d.id for d in domains}
