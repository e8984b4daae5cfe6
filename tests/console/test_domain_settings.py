"""A domain's DMARC, forwarding and catch-all set from its page through the API's PATCH schema
and service: a DMARC change reaches the provider after its commit, a blank field clears, a
refusal (the schema's or the provider's) changes nothing and comes back as typed."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from mailfleet.db import Database
from mailfleet.dns import tasks as dns_tasks
from mailfleet.models import Domain, MailboxType, Role
from tests.console.conftest import csrf_of, set_password, sign_in
from tests.dns.held import HeldProvider, hosted, install, name_of
from tests.factories import Caller, make_member
from tests.support.jobs import runtime_of

FORM = {
    "dmarc_policy": "none",
    "dmarc_rua": "",
    "forwarding_url": "",
    "forwarding_code": "",
    "catch_all_target": "",
}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> HeldProvider:
    provider = install(monkeypatch)
    provider.release.set()
    return provider


def _published(db: Database, client: TestClient, owner: Caller) -> str:
    """A GOOGLE domain whose managed records (its DMARC among them) are at the provider."""
    domain = hosted(db, owner.workspace_id, "zone", MailboxType.GOOGLE)
    dns_tasks.publish_records(runtime_of(client), [domain])
    return domain


def _domain(db: Database, domain_id: str) -> Domain:
    with db.transaction(write=False) as session:
        return session.get_one(Domain, uuid.UUID(domain_id))


def _save(client: TestClient, domain_id: str, **fields: str) -> Response:
    token = csrf_of(client.get(f"/console/domains/{domain_id}").text)
    return client.post(
        f"/console/domains/{domain_id}/settings",
        data={"csrf_token": token, **FORM, **fields},
        follow_redirects=False,
    )


def test_dmarc_is_saved_and_its_record_sent_to_the_provider(
    console: TestClient, owner: Caller, db: Database, fake: HeldProvider
) -> None:
    domain = _published(db, console, owner)
    fake.taken.clear()

    saved = _save(console, domain, dmarc_policy="reject", dmarc_rua="reports@example.com")

    assert saved.status_code == 303, saved.text
    assert saved.headers["location"] == f"/console/domains/{domain}#settings"
    stored = _domain(db, domain)
    assert (stored.dmarc_policy, stored.dmarc_rua) == ("reject", "reports@example.com")
    assert fake.taken == [("zone", [(f"_dmarc.{name_of(db, domain)}", "TXT")])]
    page = console.get(f"/console/domains/{domain}").text
    assert '<option value="reject" selected>' in page
    assert 'value="reports@example.com"' in page


def test_forwarding_and_the_catch_all_are_set_then_cleared_by_blank_fields(
    console: TestClient, owner: Caller, db: Database, fake: HeldProvider
) -> None:
    domain = _published(db, console, owner)

    set_ = _save(
        console,
        domain,
        forwarding_url="https://example.com/landing",
        forwarding_code="302",
        catch_all_target="inbox@example.com",
    )
    assert set_.status_code == 303, set_.text
    stored = _domain(db, domain)
    assert (stored.forwarding_url, stored.forwarding_code, stored.catch_all_target) == (
        "https://example.com/landing",
        302,
        "inbox@example.com",
    )

    cleared = _save(console, domain)
    assert cleared.status_code == 303, cleared.text
    stored = _domain(db, domain)
    assert (stored.forwarding_url, stored.forwarding_code, stored.catch_all_target) == (
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"forwarding_url": "not a url"}, "forwarding_url"),
        ({"catch_all_target": "nobody"}, "catch_all_target"),
        ({"dmarc_policy": "bogus"}, "dmarc_policy"),
    ],
)
def test_a_refused_setting_changes_nothing_and_comes_back_as_typed(
    console: TestClient,
    owner: Caller,
    db: Database,
    fake: HeldProvider,
    fields: dict[str, str],
    where: str,
) -> None:
    domain = _published(db, console, owner)
    before = _domain(db, domain)

    refused = _save(console, domain, dmarc_rua="typed@example.com", **fields)

    assert refused.status_code == 422, refused.text
    assert 'id="settings-error"' in refused.text
    assert f"<strong>{where}</strong>" in refused.text
    assert 'value="typed@example.com"' in refused.text
    after = _domain(db, domain)
    assert (after.dmarc_rua, after.forwarding_url, after.catch_all_target) == (
        before.dmarc_rua,
        before.forwarding_url,
        before.catch_all_target,
    )


def test_a_dmarc_change_the_provider_refuses_is_put_back(
    console: TestClient, owner: Caller, db: Database, fake: HeldProvider
) -> None:
    domain = _published(db, console, owner)
    fake.refuse = True

    refused = _save(console, domain, dmarc_policy="reject")

    assert refused.status_code == 502, refused.text
    assert "The DNS provider did not accept the change" in refused.text
    assert _domain(db, domain).dmarc_policy == "none"


def test_a_viewer_reads_the_settings_but_cannot_change_them(
    client: TestClient, owner: Caller, db: Database, fake: HeldProvider
) -> None:
    viewer = make_member(db, owner, Role.VIEWER)
    set_password(db, viewer.user_id)
    sign_in(client, viewer.email)
    domain = _published(db, client, owner)

    page = client.get(f"/console/domains/{domain}").text
    assert 'id="settings-form"' not in page
    assert "<dt>DMARC policy</dt><dd>none</dd>" in page
    refused = client.post(
        f"/console/domains/{domain}/settings",
        data={"csrf_token": csrf_of(page), **FORM, "dmarc_policy": "reject"},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    assert _domain(db, domain).dmarc_policy == "none"
