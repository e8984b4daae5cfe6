"""A domain's own DNS records edited from its page, through the API's record rules: added and
deleted, refusals shown next to the field with the form as typed and nothing written, a
provider's refusal put back, and no editing below EDITOR."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from mailfleet.db import Database
from mailfleet.models import DnsRecord, Role
from tests.console.conftest import csrf_of, set_password, sign_in
from tests.dns.held import HeldProvider, hosted, install, name_of
from tests.factories import Caller, make_member


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> HeldProvider:
    provider = install(monkeypatch)
    provider.release.set()  # the zone "slow" is never used here
    return provider


def _own_records(db: Database, domain_id: str) -> list[tuple[str, str, str]]:
    with db.transaction(write=False) as session:
        rows = session.scalars(
            select(DnsRecord).where(
                DnsRecord.domain_id == uuid.UUID(domain_id), DnsRecord.managed.is_(False)
            )
        )
        return sorted((row.name, row.type, row.content) for row in rows)


def _add(client: TestClient, domain_id: str, **fields: str) -> Response:
    token = csrf_of(client.get(f"/console/domains/{domain_id}").text)
    return client.post(
        f"/console/domains/{domain_id}/records",
        data={"csrf_token": token, **fields},
        follow_redirects=False,
    )


def test_a_record_is_added_sent_to_the_provider_and_deleted(
    console: TestClient, owner: Caller, db: Database, fake: HeldProvider
) -> None:
    domain = hosted(db, owner.workspace_id, "zone")
    name = name_of(db, domain)

    added = _add(console, domain, name="app", type="A", content="192.0.2.1", ttl="")

    assert added.status_code == 303, added.text
    assert added.headers["location"] == f"/console/domains/{domain}#records"
    assert _own_records(db, domain) == [(f"app.{name}", "A", "192.0.2.1")]
    assert fake.taken == [("zone", [(f"app.{name}", "A")])]
    page = console.get(f"/console/domains/{domain}").text
    assert f"app.{name}" in page
    with db.transaction(write=False) as session:
        row = session.scalars(
            select(DnsRecord).where(DnsRecord.domain_id == uuid.UUID(domain))
        ).one()
        assert row.ttl == 3600
    assert f'action="/console/domains/{domain}/records/{row.id}/delete"' in page

    deleted = console.post(
        f"/console/domains/{domain}/records/{row.id}/delete",
        data={"csrf_token": csrf_of(page)},
        follow_redirects=False,
    )
    assert deleted.status_code == 303
    assert _own_records(db, domain) == []
    # The second call to the provider: the RRset deleted there (no records sent for it).
    assert fake.taken[1:] == [("zone", [])]


@pytest.mark.parametrize(
    ("fields", "status", "where"),
    [
        ({"name": "app", "type": "A", "content": "not-an-address"}, 422, "content"),
        ({"name": "app", "type": "A", "content": "192.0.2.1", "ttl": "5"}, 422, "ttl"),
        ({"name": "app", "type": "BOGUS", "content": "x"}, 422, "type"),
    ],
)
def test_a_refused_record_is_shown_with_the_form_as_typed_and_nothing_written(
    console: TestClient,
    owner: Caller,
    db: Database,
    fake: HeldProvider,
    fields: dict[str, str],
    status: int,
    where: str,
) -> None:
    domain = hosted(db, owner.workspace_id, "zone")

    refused = _add(console, domain, **fields)

    assert refused.status_code == status, refused.text
    assert 'id="record-error"' in refused.text
    assert f"<strong>{where}</strong>" in refused.text
    assert f'value="{fields["content"]}"' in refused.text
    assert _own_records(db, domain) == []
    assert fake.calls == []


def test_a_record_the_provider_refuses_is_put_back_and_the_page_says_why(
    console: TestClient, owner: Caller, db: Database, fake: HeldProvider
) -> None:
    domain = hosted(db, owner.workspace_id, "zone")
    fake.refuse = True

    refused = _add(console, domain, name="app", type="A", content="192.0.2.1")

    assert refused.status_code == 502, refused.text
    assert "The DNS provider did not accept the change" in refused.text
    assert _own_records(db, domain) == []


def test_a_viewer_sees_the_records_but_cannot_change_them(
    client: TestClient, owner: Caller, db: Database, fake: HeldProvider
) -> None:
    viewer = make_member(db, owner, Role.VIEWER)
    set_password(db, viewer.user_id)
    sign_in(client, viewer.email)
    domain = hosted(db, owner.workspace_id, "zone")

    page = client.get(f"/console/domains/{domain}").text
    assert 'id="record-form"' not in page
    refused = client.post(
        f"/console/domains/{domain}/records",
        data={"csrf_token": csrf_of(page), "name": "app", "type": "A", "content": "192.0.2.1"},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    assert _own_records(db, domain) == []
