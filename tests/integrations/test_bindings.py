"""A zone is made at the workspace's DNS installation and remembers it: every later call for
that domain goes to the same account, whatever is installed since; an installation in use
cannot be deleted."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from mailfleet.db import Database
from mailfleet.dns import tasks as dns_tasks
from mailfleet.domains import tasks as domain_tasks
from mailfleet.integrations import resolve
from mailfleet.kit import clock
from mailfleet.kit.crypto import SecretBox
from mailfleet.mailboxes import tasks as mailbox_tasks
from mailfleet.mailboxes.providers.google import GoogleProvider
from mailfleet.mailboxes.providers.registry import MAILBOX_PROVIDERS
from mailfleet.models import Domain, DomainStatus, Mailbox, MailboxStatus, MailboxType, Role
from tests.factories import Caller, give_slots, make_domain, make_member, make_tenant, order_body
from tests.fakes.cloudflare import FakeCloudflare
from tests.fakes.google import FakeGoogle
from tests.support.jobs import drain, runtime_of

CUSTOMER_TOKEN = "customer-cf-token-0123456789"


@pytest.fixture
def fake() -> Iterator[FakeCloudflare]:
    # The customer's Cloudflare account: only their token and account id open it.
    with FakeCloudflare(token=CUSTOMER_TOKEN, account_id="customer-account") as server:
        yield server


@pytest.fixture
def client(make_client: Callable[..., TestClient], fake: FakeCloudflare) -> TestClient:
    # The deployment's own zones are builtin (its database is the zone): no call leaves it.
    return make_client(dns_provider="builtin", cloudflare_base_url=fake.base_url)


def install(client: TestClient, owner: Caller, provider: str = "cloudflare") -> str:
    bodies = {
        "cloudflare": {
            "credentials": {"api_token": CUSTOMER_TOKEN},
            "config": {"account_id": "customer-account"},
        },
        # Never reached here: nothing may be sent to it for a zone made elsewhere.
        "powerdns": {
            "credentials": {"api_key": "customer-pdns-key"},
            "config": {"api_url": "http://127.0.0.1:9/"},
        },
    }
    response = client.post(
        "/v1/integrations",
        json={"kind": "dns", "provider": provider, "label": f"Acme's {provider}"}
        | bodies[provider],
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    installation_id: str = response.json()["id"]
    return installation_id


def zone_made(db: Database, client: TestClient, workspace_id: uuid.UUID) -> Domain:
    """A submitted domain whose zone the zone job has just created."""
    domain = make_domain(db, workspace_id, status=DomainStatus.QUEUED)
    domain_tasks.create_zones(runtime_of(client), [str(domain.id)])
    with db.transaction(write=False) as session:
        return session.get_one(Domain, domain.id)


def add_record(client: TestClient, owner: Caller, domain: Domain, name: str) -> None:
    response = client.post(
        f"/v1/domains/{domain.id}/dns/records",
        json={"name": name, "type": "A", "content": "192.0.2.1"},
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text


def at_customer(fake: FakeCloudflare, domain: Domain) -> set[str]:
    return {record["name"] for record in fake.records_of(domain.name)}


def test_a_zone_is_made_at_the_installation_and_remembers_it(
    db: Database, client: TestClient, fake: FakeCloudflare
) -> None:
    owner = make_tenant(db)
    before = zone_made(db, client, owner.workspace_id)
    installation_id = install(client, owner)

    after = zone_made(db, client, owner.workspace_id)

    # Made before the installation: the deployment's builtin zone, bound to no installation.
    assert (before.dns_provider, before.dns_installation_id) == ("builtin", None)
    assert fake.zone_by_name(before.name) is None
    # Made after: in the customer's account, and the domain says which installation.
    assert after.dns_provider == "cloudflare"
    assert str(after.dns_installation_id) == installation_id
    created = fake.zone_by_name(after.name)
    assert created is not None
    assert created["account"]["id"] == "customer-account"
    # Its records went there too; the older domain's records stay builtin.
    add_record(client, owner, after, "app")
    add_record(client, owner, before, "app")
    assert f"app.{after.name}" in at_customer(fake, after)
    assert fake.zone_by_name(before.name) is None


def test_an_installation_added_later_does_not_steer_an_existing_zone(
    db: Database, client: TestClient, fake: FakeCloudflare
) -> None:
    owner = make_tenant(db)
    install(client, owner, "cloudflare")
    domain = zone_made(db, client, owner.workspace_id)
    # A newer DNS installation: new zones would go there, this one must not.
    install(client, owner, "powerdns")

    add_record(client, owner, domain, "www")
    dns_tasks.publish_records(runtime_of(client), [str(domain.id)])

    assert f"www.{domain.name}" in at_customer(fake, domain)
    with db.transaction(write=False) as session:
        assert session.get_one(Domain, domain.id).dns_drift is False
    # Removed: its zone is deleted in the account it was made at.
    response = client.delete(f"/v1/domains/{domain.id}", headers=owner.headers)
    assert response.status_code in (200, 202), response.text
    dns_tasks.delete_zone(runtime_of(client), str(domain.id))
    assert fake.zone_by_name(domain.name) is None


def test_an_installation_in_use_cannot_be_deleted_until_its_domains_are_gone(
    db: Database, client: TestClient, fake: FakeCloudflare
) -> None:
    owner = make_tenant(db)
    installation_id = install(client, owner)
    first = zone_made(db, client, owner.workspace_id)
    zone_made(db, client, owner.workspace_id)
    url = f"/v1/integrations/{installation_id}"

    refused = client.delete(url, headers=owner.headers)

    assert refused.status_code == 409
    problem = refused.json()
    assert problem["code"] == "installation_in_use"
    assert "2 domains and 0 mailboxes" in problem["detail"]
    assert client.get(url, headers=owner.headers).status_code == 200

    # Once the domains are removed and their zones deleted, it can go; the removed domains let
    # go of it.
    with db.transaction() as session:
        for domain in session.scalars(
            select(Domain).where(Domain.workspace_id == owner.workspace_id)
        ):
            domain.status, domain.next_check_at = DomainStatus.REMOVED, None
    deleted = client.delete(url, headers=owner.headers)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"id": installation_id, "deleted": True}
    assert client.get(url, headers=owner.headers).status_code == 404
    with db.transaction(write=False) as session:
        assert session.get_one(Domain, first.id).dns_installation_id is None


def test_a_removed_domain_holds_its_installation_until_its_zone_is_deleted_there(
    db: Database, client: TestClient, fake: FakeCloudflare
) -> None:
    owner = make_tenant(db)
    installation_id = install(client, owner)
    domain = zone_made(db, client, owner.workspace_id)
    url = f"/v1/integrations/{installation_id}"
    runtime = runtime_of(client)

    removed = client.delete(f"/v1/domains/{domain.id}", headers=owner.headers)
    assert removed.status_code in (200, 202), removed.text
    runtime.huey.flush()  # the deletion job is lost (a memory queue, a restart)

    # Unbinding now would send the zone's deletion to the deployment's account.
    refused = client.delete(url, headers=owner.headers)
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "installation_in_use"
    assert fake.zone_by_name(domain.name) is not None
    # The sweep hands the deletion out again once its lease is over.
    assert domain_tasks.sweep_domains(runtime) == 0
    clock.advance(dns_tasks.ZONE_DELETION_LEASE.total_seconds() + 1)
    assert domain_tasks.sweep_domains(runtime) == 1
    drain(runtime)

    assert fake.zone_by_name(domain.name) is None
    assert client.delete(url, headers=owner.headers).status_code == 200
    clock.advance(dns_tasks.ZONE_DELETION_LEASE.total_seconds() + 1)
    assert domain_tasks.sweep_domains(runtime) == 0


# --- mailboxes ---------------------------------------------------------------------------------


@pytest.fixture
def google() -> Iterator[FakeGoogle]:
    with FakeGoogle() as server:
        yield server


@pytest.fixture
def google_client(
    google: FakeGoogle, make_client: Callable[..., TestClient]
) -> Iterator[TestClient]:
    MAILBOX_PROVIDERS.clear()
    # The deployment has no admin to impersonate: only the customer's installation can act.
    overrides = {**google.settings_overrides(), "google_admin_subject": ""}
    yield make_client(recent_creation_rule="off", backend_google="google", **overrides)
    MAILBOX_PROVIDERS.clear()


def test_a_mailbox_is_made_and_removed_at_the_installation_it_was_provisioned_at(
    db: Database, google: FakeGoogle, google_client: TestClient
) -> None:
    owner = make_tenant(db)
    overrides = google.settings_overrides()
    response = google_client.post(
        "/v1/integrations",
        json={
            "kind": "mailbox",
            "provider": "google",
            "label": "Acme's Google Workspace",
            "credentials": {"service_account_json": overrides["google_service_account_json"]},
            "config": {"admin_subject": overrides["google_admin_subject"]},
        },
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    installation_id = response.json()["id"]
    domain = make_domain(db, owner.workspace_id)
    give_slots(db, owner.workspace_id, MailboxType.GOOGLE, 2)
    runtime = runtime_of(google_client)
    with db.transaction(write=False) as session:
        installed = resolve.resolve(
            session,
            runtime.settings,
            SecretBox.from_settings(runtime.settings),
            MAILBOX_PROVIDERS,
            owner.workspace_id,
            "google",
        )
    assert isinstance(installed, GoogleProvider)
    google.publish_txt(domain.name, installed.verification_token(domain.name))

    ordered = google_client.post(
        "/v1/mailbox-orders", json=order_body(domain, ["ann"]), headers=owner.headers
    )
    assert ordered.status_code == 201, ordered.text
    drain(runtime)

    with db.transaction(write=False) as session:
        mailbox = session.scalars(select(Mailbox)).one()
    assert mailbox.status == MailboxStatus.ACTIVE, mailbox.failure_reason
    assert str(mailbox.installation_id) == installation_id
    assert google.users_on(domain.name) == [f"ann@{domain.name}"]

    url = f"/v1/integrations/{installation_id}"
    refused = google_client.delete(url, headers=owner.headers)
    assert refused.status_code == 409
    assert refused.json()["code"] == "installation_in_use"
    assert "0 domains and 1 mailbox" in refused.json()["detail"]

    # Removed now: deleted in the customer's tenant (the deployment's cannot act at all).
    removed = google_client.delete(f"/v1/mailboxes/{mailbox.id}", headers=owner.headers)
    assert removed.status_code in (200, 202), removed.text
    # Until its deletion there is done, the removed mailbox holds the installation; a lost
    # deletion job is handed out again by the sweep.
    runtime.huey.flush()
    held = google_client.delete(url, headers=owner.headers)
    assert held.status_code == 409, held.text
    assert "0 domains and 1 mailbox" in held.json()["detail"]
    assert google.users_on(domain.name) == [f"ann@{domain.name}"]
    clock.advance(runtime.settings.job_lease_seconds + 1)
    assert mailbox_tasks.sweep_suspensions(runtime) == 1
    drain(runtime)
    assert google.users_on(domain.name) == []
    assert google_client.delete(url, headers=owner.headers).status_code == 200


# --- the API -------------------------------------------------------------------------------------


def test_members_read_installations_admins_write_them_and_credentials_never_show(
    db: Database, client: TestClient
) -> None:
    owner = make_tenant(db)
    viewer = make_member(db, owner, Role.VIEWER)
    installation_id = install(client, owner)

    listed = client.get("/v1/integrations", headers=viewer.headers)
    shown = client.get(f"/v1/integrations/{installation_id}", headers=viewer.headers)

    assert listed.status_code == shown.status_code == 200
    assert listed.json()["items"] == [shown.json()]
    body = shown.json()
    assert (body["kind"], body["provider"], body["label"]) == (
        "dns",
        "cloudflare",
        "Acme's cloudflare",
    )
    assert body["config"] == {"account_id": "customer-account"}
    assert body["credential_keys"] == ["api_token"]
    assert CUSTOMER_TOKEN not in listed.text + shown.text
    assert client.get("/v1/integrations?kind=mailbox", headers=owner.headers).json()["items"] == []
    # A viewer may not install or delete; another workspace sees nothing.
    assert (
        client.delete(f"/v1/integrations/{installation_id}", headers=viewer.headers).status_code
        == 403
    )
    assert client.post("/v1/integrations", json={}, headers=viewer.headers).status_code in (
        403,
        422,
    )
    stranger = make_tenant(db)
    missing = client.get(f"/v1/integrations/{installation_id}", headers=stranger.headers)
    assert (missing.status_code, missing.json()["code"]) == (404, "provider_installation_not_found")
    again = client.post(
        "/v1/integrations",
        json={
            "kind": "dns",
            "provider": "cloudflare",
            "label": "again",
            "credentials": {"api_token": "t"},
        },
        headers=owner.headers,
    )
    assert (again.status_code, again.json()["code"]) == (409, "installation_exists")
