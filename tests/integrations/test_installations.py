"""Provider installations: a customer's own account, stored encrypted, bound to a workspace,
and used there instead of the deployment's default."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select

from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.dns.providers.base import DnsProvider, DnsProviderError
from mailfleet.dns.providers.cloudflare import CloudflareProvider
from mailfleet.dns.providers.registry import DNS_PROVIDERS
from mailfleet.dns.providers.registry import provider_for as dns_provider_for
from mailfleet.exceptions import MailfleetError
from mailfleet.integrations import resolve, service
from mailfleet.integrations.errors import (
    InstallationExists,
    InstallationNotFound,
    InvalidInstallation,
    ProviderNotInstallable,
    UnknownProvider,
    UnknownProviderKind,
)
from mailfleet.kit.crypto import SecretBox
from mailfleet.mailboxes.providers.google import GoogleProvider
from mailfleet.mailboxes.providers.registry import MAILBOX_PROVIDERS
from mailfleet.models import ProviderInstallation
from tests.factories import make_tenant
from tests.fakes.cloudflare import FakeCloudflare
from tests.fakes.google import FakeGoogle

CUSTOMER_TOKEN = "customer-cf-token-0123456789"


@pytest.fixture
def fake() -> Iterator[FakeCloudflare]:
    # The customer's Cloudflare account: only their token and account id open it.
    with FakeCloudflare(token=CUSTOMER_TOKEN, account_id="customer-account") as server:
        yield server


@pytest.fixture
def settings(make_settings: Callable[..., Settings], fake: FakeCloudflare) -> Settings:
    # The deployment's own default is another Cloudflare account, at the same endpoint.
    return make_settings(
        dns_provider="cloudflare",
        cloudflare_api_token="deployment-token",
        cloudflare_account_id="deployment-account",
        cloudflare_base_url=fake.base_url,
    )


@pytest.fixture
def box(settings: Settings) -> SecretBox:
    return SecretBox.from_settings(settings)


def install_cloudflare(db: Database, box: SecretBox, workspace_id: uuid.UUID) -> uuid.UUID:
    with db.transaction() as session:
        return service.create(
            session,
            box,
            workspace_id,
            kind="dns",
            provider="cloudflare",
            label="Acme's Cloudflare",
            credentials={"api_token": CUSTOMER_TOKEN},
            config={"account_id": "customer-account"},
        ).id


def resolved_dns(
    db: Database, settings: Settings, box: SecretBox, workspace_id: uuid.UUID
) -> DnsProvider:
    with db.transaction(write=False) as session:
        return resolve.resolve(session, settings, box, DNS_PROVIDERS, workspace_id)


def test_credentials_are_stored_encrypted_and_never_shown(db: Database, box: SecretBox) -> None:
    workspace_id = make_tenant(db).workspace_id
    installation_id = install_cloudflare(db, box, workspace_id)

    with db.transaction(write=False) as session:
        shown = service.get(session, box, workspace_id, installation_id)
        listed = service.list_installations(session, box, workspace_id)
        row = session.scalars(select(ProviderInstallation)).one()
    assert listed == [shown]
    assert (shown.kind, shown.provider, shown.label) == ("dns", "cloudflare", "Acme's Cloudflare")
    assert shown.config == {"account_id": "customer-account"}
    assert shown.credential_keys == ("api_token",)
    assert CUSTOMER_TOKEN not in repr(shown)
    # At rest: a Fernet token, not the secret.
    assert CUSTOMER_TOKEN not in row.credentials_enc
    assert json.loads(box.decrypt(row.credentials_enc)) == {"api_token": CUSTOMER_TOKEN}


def test_a_workspace_without_an_installation_gets_the_deployments_default(
    db: Database, settings: Settings, box: SecretBox
) -> None:
    workspace_id = make_tenant(db).workspace_id

    provider = resolved_dns(db, settings, box, workspace_id)

    assert provider is dns_provider_for(settings)


def test_an_installed_account_is_the_one_that_acts(
    db: Database, settings: Settings, box: SecretBox, fake: FakeCloudflare
) -> None:
    customer, other = make_tenant(db).workspace_id, make_tenant(db).workspace_id
    install_cloudflare(db, box, customer)

    provider = resolved_dns(db, settings, box, customer)
    assert isinstance(provider, CloudflareProvider)
    zone = provider.ensure_zone("acme-own.test", ["ns1.x.test", "ns2.x.test"], serial=1)

    # Created in the customer's account with the customer's token.
    created = fake.zone_by_name("acme-own.test")
    assert created is not None
    assert created["account"]["id"] == "customer-account"
    assert zone.nameservers
    # The same client next time; another workspace still gets the deployment's account,
    # which this fake does not open.
    assert resolved_dns(db, settings, box, customer) is provider
    default = resolved_dns(db, settings, box, other)
    assert default is dns_provider_for(settings)
    with pytest.raises(DnsProviderError) as refused:
        default.ensure_zone("other-ws.test", ["ns1.x.test", "ns2.x.test"], serial=1)
    assert not refused.value.retryable
    assert fake.zone_by_name("other-ws.test") is None


def test_deleting_an_installation_falls_back_to_the_default(
    db: Database, settings: Settings, box: SecretBox
) -> None:
    workspace_id = make_tenant(db).workspace_id
    installation_id = install_cloudflare(db, box, workspace_id)
    installed = resolved_dns(db, settings, box, workspace_id)

    with db.transaction() as session:
        service.delete(session, workspace_id, installation_id)

    assert resolved_dns(db, settings, box, workspace_id) is dns_provider_for(settings)
    # Installed again (new credentials, new row): built afresh, not the old client.
    install_cloudflare(db, box, workspace_id)
    again = resolved_dns(db, settings, box, workspace_id)
    assert again is not installed
    assert again is not dns_provider_for(settings)


def test_an_installation_is_invisible_to_other_workspaces(db: Database, box: SecretBox) -> None:
    owner, stranger = make_tenant(db).workspace_id, make_tenant(db).workspace_id
    installation_id = install_cloudflare(db, box, owner)

    with db.transaction() as session:
        assert service.list_installations(session, box, stranger) == []
        with pytest.raises(InstallationNotFound) as caught:
            service.get(session, box, stranger, installation_id)
        with pytest.raises(InstallationNotFound):
            service.delete(session, stranger, installation_id)
    assert caught.value.status == 404
    assert caught.value.code == "provider_installation_not_found"


def test_a_mailbox_installation_binds_its_provider_only(
    db: Database, make_settings: Callable[..., Settings]
) -> None:
    with FakeGoogle() as google:
        settings = make_settings(**{**google.settings_overrides(), "google_admin_subject": ""})
        box = SecretBox.from_settings(settings)
        workspace_id = make_tenant(db).workspace_id
        overrides = google.settings_overrides()
        with db.transaction() as session:
            service.create(
                session,
                box,
                workspace_id,
                kind="mailbox",
                provider="google",
                label="Acme's Google Workspace",
                credentials={"service_account_json": overrides["google_service_account_json"]},
                config={"admin_subject": overrides["google_admin_subject"]},
            )
        with db.transaction(write=False) as session:
            binding = resolve.binding_for(
                session, settings, MAILBOX_PROVIDERS, workspace_id, "google"
            )
            smtp = resolve.binding_for(session, settings, MAILBOX_PROVIDERS, workspace_id, "smtp")
        provider = resolve.provider_of(settings, box, MAILBOX_PROVIDERS, binding)

        # The deployment has no admin to impersonate; the customer's installation does.
        assert binding.installation_id is not None
        assert isinstance(provider, GoogleProvider)
        provider.prepare_domain("customer.test")  # the fake tenant's primary domain
        assert (smtp.provider, smtp.installation_id) == ("smtp", None)


@pytest.mark.parametrize(
    ("kind", "provider", "credentials", "config", "error", "field"),
    [
        ("telepathy", "porkbun", {}, {}, UnknownProviderKind, "kind"),
        # Payments go to the deployment's own Stripe account, never a customer's.
        ("payments", "stripe", {}, {}, ProviderNotInstallable, "provider"),
        ("dns", "route53", {}, {}, UnknownProvider, "provider"),
        ("dns", "builtin", {}, {}, ProviderNotInstallable, "provider"),
        ("mailbox", "smtp", {}, {}, ProviderNotInstallable, "provider"),
        ("dns", "cloudflare", {}, {}, InvalidInstallation, "credentials"),
        ("dns", "cloudflare", {"api_token": "  "}, {}, InvalidInstallation, "credentials"),
        ("dns", "cloudflare", {"api_token": "t", "x": "y"}, {}, InvalidInstallation, "credentials"),
        # An installation cannot move the provider's endpoint (the deployment's setting).
        (
            "dns",
            "cloudflare",
            {"api_token": "t"},
            {"base_url": "http://x"},
            InvalidInstallation,
            "config",
        ),
    ],
)
def test_invalid_installations_are_refused_saying_why(
    db: Database,
    box: SecretBox,
    kind: str,
    provider: str,
    credentials: dict[str, str],
    config: dict[str, str],
    error: type[MailfleetError],
    field: str,
) -> None:
    workspace_id = make_tenant(db).workspace_id
    with db.transaction() as session, pytest.raises(error) as caught:
        service.create(
            session,
            box,
            workspace_id,
            kind=kind,
            provider=provider,
            label="x",
            credentials=credentials,
            config=config,
        )
    assert caught.value.status == 422
    assert caught.value.field == field
    assert caught.value.detail


def test_one_installation_per_provider_and_kind(db: Database, box: SecretBox) -> None:
    workspace_id = make_tenant(db).workspace_id
    install_cloudflare(db, box, workspace_id)

    with pytest.raises(InstallationExists) as caught:
        install_cloudflare(db, box, workspace_id)

    assert (caught.value.status, caught.value.code) == (409, "installation_exists")
