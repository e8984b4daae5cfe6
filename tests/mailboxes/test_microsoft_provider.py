"""The Microsoft 365 provider against a local fake of the identity platform and Graph v1.0.

msal and httpx run unchanged: the fake serves HTTPS (msal accepts no other authority) with its
own CA, trusted here through SSL_CERT_FILE. The last test runs the provisioning job itself with
the "microsoft" backend.
"""

from __future__ import annotations

import base64
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from mailfleet.db import Database
from mailfleet.mailboxes.providers import microsoft as microsoft_provider
from mailfleet.mailboxes.providers import registry
from mailfleet.mailboxes.providers.base import MailboxProviderError, NewMailbox
from mailfleet.mailboxes.providers.microsoft import MicrosoftProvider
from mailfleet.models import Mailbox, MailboxOrder, MailboxStatus, MailboxType, OrderStatus
from tests.conftest import base_settings
from tests.factories import give_slots, make_domain, make_tenant, order_body
from tests.fakes.graph import EXCHANGE_PLAN_1, FakeGraph
from tests.fakes.photos import sample_image
from tests.support.jobs import drain

DOMAIN = "acme-mail.com"
PASSWORD = "Tr0ub4dor&3-horse"


def graph_settings(fake: FakeGraph, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "microsoft_tenant_id": fake.tenant_id,
        "microsoft_client_id": fake.client_id,
        "microsoft_client_secret": fake.client_secret,
        "microsoft_authority_base_url": fake.authority_base,
        "microsoft_graph_base_url": fake.graph_base_url,
        "microsoft_license_sku_id": EXCHANGE_PLAN_1,
        "microsoft_usage_location": "GB",
    }
    values.update(overrides)
    return values


@pytest.fixture
def graph(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGraph]:
    with FakeGraph() as fake:
        monkeypatch.setenv("SSL_CERT_FILE", str(fake.ca_file))
        yield fake


@pytest.fixture
def make_provider(graph: FakeGraph, tmp_path: Path) -> Callable[..., MicrosoftProvider]:
    def build(**overrides: Any) -> MicrosoftProvider:
        settings = base_settings(tmp_path, "sqlite://", **graph_settings(graph, **overrides))
        return MicrosoftProvider(settings)

    return build


@pytest.fixture
def provider(make_provider: Callable[..., MicrosoftProvider]) -> MicrosoftProvider:
    return make_provider()


@pytest.fixture
def verified(graph: FakeGraph, provider: MicrosoftProvider) -> str:
    graph.publish_verification(DOMAIN)
    provider.prepare_domain(DOMAIN)
    return DOMAIN


def _new(username: str = "ann", password: str = PASSWORD) -> NewMailbox:
    return NewMailbox(f"{username}@{DOMAIN}", "Ann", "Lee", password)


def _statuses(graph: FakeGraph, method: str, path: str) -> list[int]:
    return [request.status for request in graph.calls(method, path)]


def test_a_domain_is_added_then_verified_once_its_txt_record_is_published(
    graph: FakeGraph, provider: MicrosoftProvider
) -> None:
    with pytest.raises(MailboxProviderError) as caught:
        provider.prepare_domain(DOMAIN)
    expected = graph.verification_text(DOMAIN)
    assert caught.value.retryable
    assert f'publish the TXT record "{expected}" at {DOMAIN}' in str(caught.value)
    assert graph.domains[DOMAIN]["isVerified"] is False

    txt = provider.verification_txt(DOMAIN)
    assert txt == expected
    assert txt.startswith("MS=ms")

    graph.publish_txt(DOMAIN, txt)
    provider.prepare_domain(DOMAIN)
    provider.prepare_domain(DOMAIN)  # verified and declared for Email: nothing more to do

    assert graph.domains[DOMAIN]["isVerified"] is True
    assert graph.domains[DOMAIN]["supportedServices"] == ["Email"]
    assert _statuses(graph, "POST", "/v1.0/domains") == [201]
    assert _statuses(graph, "POST", f"/v1.0/domains/{DOMAIN}/verify") == [400, 200]
    assert _statuses(graph, "PATCH", f"/v1.0/domains/{DOMAIN}") == [204]
    # One sign-in: msal read the tenant's configuration once and reused its token.
    assert len(graph.calls("POST", r"/[^/]+/oauth2/v2\.0/token")) == 1
    records = {(r.type, r.name, r.value) for r in provider.service_records(DOMAIN)}
    assert ("MX", DOMAIN, "acme-mail-com.mail.protection.outlook.com") in records
    assert ("CNAME", f"autodiscover.{DOMAIN}", "autodiscover.outlook.com") in records


def test_a_mailbox_is_a_licensed_user_with_office365_endpoints(
    graph: FakeGraph, provider: MicrosoftProvider, verified: str
) -> None:
    result = provider.create_mailbox(_new())

    user = graph.user(f"ann@{DOMAIN}")
    assert user is not None
    assert result.provider_user_id == user["id"]
    assert user["accountEnabled"] is True
    assert (user["displayName"], user["givenName"], user["surname"]) == ("Ann Lee", "Ann", "Lee")
    assert user["mailNickname"] == "ann"
    assert user["usageLocation"] == "GB"
    assert user["passwordProfile"] == {"password": PASSWORD, "forceChangePasswordNextSignIn": False}
    assert user["assignedLicenses"] == [{"skuId": EXCHANGE_PLAN_1, "disabledPlans": []}]
    connection = result.connection
    assert (connection.smtp_host, connection.smtp_port, connection.smtp_security) == (
        "smtp.office365.com",
        587,
        "starttls",
    )
    assert (connection.imap_host, connection.imap_port, connection.imap_security) == (
        "outlook.office365.com",
        993,
        "ssl",
    )
    secret = result.totp_secret or ""
    assert len(base64.b32decode(secret)) == 20  # 160 bits, RFC 4226's recommended size
    assert pyotp.TOTP(secret).verify(pyotp.TOTP(secret).now())


def test_creating_an_existing_mailbox_resets_it_instead_of_adding_one(
    graph: FakeGraph, provider: MicrosoftProvider, verified: str
) -> None:
    first = provider.create_mailbox(_new())
    second = provider.create_mailbox(_new(password="An0ther-Passw0rd!"))

    assert second.provider_user_id == first.provider_user_id
    assert len(graph.users) == 1
    [user] = graph.users.values()
    assert user["passwordProfile"]["password"] == "An0ther-Passw0rd!"
    assert _statuses(graph, "POST", "/v1.0/users") == [201, 400]
    # Already licensed: the second call saw it and did not ask again.
    assert len(graph.calls("POST", r"/v1\.0/users/[^/]+/assignLicense")) == 1


@pytest.mark.parametrize(("status", "words"), [(429, "Retry-After 7 s"), (503, "503")])
def test_throttling_and_outages_are_retryable_then_the_retry_succeeds(
    graph: FakeGraph, provider: MicrosoftProvider, verified: str, status: int, words: str
) -> None:
    graph.fail_next(1, status=status, retry_after="7")
    with pytest.raises(MailboxProviderError) as caught:
        provider.create_mailbox(_new())
    assert caught.value.retryable
    assert words in str(caught.value)

    provider.create_mailbox(_new())

    assert _statuses(graph, "POST", "/v1.0/users") == [status, 201]
    assert len(graph.users) == 1


def test_a_refused_request_is_permanent_with_graphs_message(
    graph: FakeGraph, provider: MicrosoftProvider, verified: str
) -> None:
    with pytest.raises(MailboxProviderError) as caught:
        provider.create_mailbox(NewMailbox("ann@not-in-tenant.com", "Ann", "Lee", PASSWORD))
    assert not caught.value.retryable
    assert str(caught.value) == (
        "Microsoft Graph 400 Request_BadRequest: The domain portion of the userPrincipalName "
        "property is invalid. You must use one of the verified domain names in your organization."
    )
    assert graph.users == {}


def test_a_user_without_usage_location_cannot_be_licensed(
    graph: FakeGraph, make_provider: Callable[..., MicrosoftProvider], verified: str
) -> None:
    provider = make_provider(microsoft_usage_location="")
    with pytest.raises(MailboxProviderError) as caught:
        provider.create_mailbox(_new())
    assert not caught.value.retryable
    assert "invalid usage location" in str(caught.value)


def test_names_change_and_deleting_twice_is_fine(
    graph: FakeGraph, provider: MicrosoftProvider, verified: str
) -> None:
    provider.create_mailbox(_new())
    provider.update_mailbox(f"ann@{DOMAIN}", first_name="Anne", last_name="")
    user = graph.user(f"ann@{DOMAIN}")
    assert user is not None
    assert (user["displayName"], user["givenName"], user["surname"]) == ("Anne", "Anne", None)

    provider.delete_mailbox(f"ann@{DOMAIN}")
    provider.delete_mailbox(f"ann@{DOMAIN}")

    assert graph.users == {}
    assert _statuses(graph, "DELETE", f"/v1.0/users/ann@{DOMAIN}") == [204, 404]
    with pytest.raises(MailboxProviderError) as caught:
        provider.update_mailbox(f"ann@{DOMAIN}", first_name="A", last_name="B")
    assert not caught.value.retryable


# --- renames


def test_rename_mailbox_moves_the_account_to_the_new_address(
    graph: FakeGraph, provider: MicrosoftProvider, verified: str
) -> None:
    created = provider.create_mailbox(_new())

    user_id = provider.rename_mailbox(f"ann@{DOMAIN}", f"Anna@{DOMAIN}")

    assert user_id == created.provider_user_id
    assert graph.user(f"ann@{DOMAIN}") is None
    user = graph.user(f"anna@{DOMAIN}")
    assert user is not None
    assert user["id"] == user_id
    assert (user["userPrincipalName"], user["mail"], user["mailNickname"]) == (
        f"anna@{DOMAIN}",
        f"anna@{DOMAIN}",
        "anna",
    )
    assert user["passwordProfile"]["password"] == PASSWORD
    assert user["assignedLicenses"] == [{"skuId": EXCHANGE_PLAN_1, "disabledPlans": []}]
    assert _statuses(graph, "PATCH", f"/v1.0/users/{user_id}") == [204]


def test_renaming_again_finds_the_rename_done(
    graph: FakeGraph, provider: MicrosoftProvider, verified: str
) -> None:
    created = provider.create_mailbox(_new())
    provider.rename_mailbox(f"ann@{DOMAIN}", f"anna@{DOMAIN}")

    assert provider.rename_mailbox(f"ann@{DOMAIN}", f"anna@{DOMAIN}") == created.provider_user_id
    assert provider.rename_mailbox(f"anna@{DOMAIN}", f"anna@{DOMAIN}") == created.provider_user_id
    assert len(graph.calls("PATCH", r"/v1\.0/users/[^/]+")) == 1
    # Exchange keeps the old address, so mail sent to it still arrives.
    user = graph.user(f"anna@{DOMAIN}") or {}
    assert user["proxyAddresses"] == [f"SMTP:anna@{DOMAIN}", f"smtp:ann@{DOMAIN}"]


@pytest.mark.parametrize("holder", ["userPrincipalName", "proxyAddresses"])
def test_renaming_to_an_address_that_is_taken_is_permanent(
    graph: FakeGraph, provider: MicrosoftProvider, verified: str, holder: str
) -> None:
    provider.create_mailbox(_new())
    if holder == "userPrincipalName":
        provider.create_mailbox(_new("bob"))
    else:  # an address bob had before his own rename
        provider.create_mailbox(_new("bob"))
        provider.rename_mailbox(f"bob@{DOMAIN}", f"robert@{DOMAIN}")

    with pytest.raises(MailboxProviderError) as caught:
        provider.rename_mailbox(f"ann@{DOMAIN}", f"bob@{DOMAIN}")

    assert not caught.value.retryable
    assert f"bob@{DOMAIN} is taken" in str(caught.value)
    assert f"property {holder} already exists" in str(caught.value)
    assert graph.user(f"ann@{DOMAIN}") is not None


def test_renaming_an_unknown_user_or_into_a_foreign_domain_is_permanent(
    graph: FakeGraph, provider: MicrosoftProvider, verified: str
) -> None:
    with pytest.raises(MailboxProviderError) as caught:
        provider.rename_mailbox(f"zed@{DOMAIN}", f"zoe@{DOMAIN}")
    assert not caught.value.retryable
    assert f"no Microsoft 365 user zed@{DOMAIN}" in str(caught.value)
    assert graph.calls("PATCH", r"/v1\.0/users/[^/]+") == []

    provider.create_mailbox(_new())
    with pytest.raises(MailboxProviderError) as caught:
        provider.rename_mailbox(f"ann@{DOMAIN}", "ann@not-in-tenant.com")
    assert not caught.value.retryable
    assert "verified domain names" in str(caught.value)


@pytest.mark.parametrize("status", [429, 503])
def test_a_rename_graph_could_not_take_is_retryable(
    graph: FakeGraph, provider: MicrosoftProvider, verified: str, status: int
) -> None:
    provider.create_mailbox(_new())
    graph.fail_next(1, status=status)
    with pytest.raises(MailboxProviderError) as caught:
        provider.rename_mailbox(f"ann@{DOMAIN}", f"anna@{DOMAIN}")
    assert caught.value.retryable

    provider.rename_mailbox(f"ann@{DOMAIN}", f"anna@{DOMAIN}")
    assert graph.user(f"anna@{DOMAIN}") is not None


# --- photos

PHOTO = r"/v1\.0/users/[^/]+/photo/\$value"


def test_set_photo_puts_the_bytes_with_their_type(
    graph: FakeGraph, provider: MicrosoftProvider, verified: str
) -> None:
    created = provider.create_mailbox(_new())
    image = sample_image("JPEG", 5000)

    provider.set_photo(f"ann@{DOMAIN}", image, "image/jpeg")
    provider.set_photo(f"ann@{DOMAIN}", image, "image/jpeg")  # the same again: same result

    assert graph.photos[created.provider_user_id] == ("image/jpeg", image)
    assert _statuses(graph, "PUT", PHOTO) == [200, 200]
    provider.set_photo(f"ann@{DOMAIN}", sample_image("PNG"), "image/png; charset=binary")
    assert graph.photos[created.provider_user_id] == ("image/png", sample_image("PNG"))


@pytest.mark.parametrize(
    ("size", "media_type", "words"),
    [
        (4 * 1024 * 1024 + 1, "image/jpeg", "at most 4194304"),
        (100, "image/gif", "not 'image/gif'"),
        (0, "image/jpeg", "empty"),
    ],
)
def test_a_photo_graph_would_refuse_is_permanent_and_not_sent(
    graph: FakeGraph,
    provider: MicrosoftProvider,
    verified: str,
    size: int,
    media_type: str,
    words: str,
) -> None:
    provider.create_mailbox(_new())
    image = sample_image("JPEG", size) if size else b""
    with pytest.raises(MailboxProviderError) as caught:
        provider.set_photo(f"ann@{DOMAIN}", image, media_type)
    assert not caught.value.retryable
    assert words in str(caught.value)
    assert graph.calls("PUT", PHOTO) == []


@pytest.mark.parametrize(
    ("image", "media_type", "answer"),
    [
        (sample_image("JPEG", 4 * 1024 * 1024 + 1), "image/jpeg", "413 RequestEntityTooLarge"),
        (sample_image("GIF"), "image/gif", "415 UnsupportedMediaType"),
        (sample_image("GIF"), "image/png", "400 ImageNotValid"),
    ],
)
def test_graph_refusing_a_photo_is_permanent_with_its_message(
    graph: FakeGraph,
    provider: MicrosoftProvider,
    verified: str,
    monkeypatch: pytest.MonkeyPatch,
    image: bytes,
    media_type: str,
    answer: str,
) -> None:
    provider.create_mailbox(_new())
    # Past the provider's own checks, to reach Graph's.
    monkeypatch.setattr(microsoft_provider, "PHOTO_MAX_BYTES", 8 * 1024 * 1024)
    monkeypatch.setattr(microsoft_provider, "PHOTO_TYPES", frozenset({media_type}))
    with pytest.raises(MailboxProviderError) as caught:
        provider.set_photo(f"ann@{DOMAIN}", image, media_type)
    assert not caught.value.retryable
    assert f"Microsoft Graph {answer}" in str(caught.value)
    assert graph.photos == {}


def test_a_photo_for_an_unknown_user_is_permanent_for_a_new_mailbox_retryable(
    graph: FakeGraph, provider: MicrosoftProvider, verified: str
) -> None:
    with pytest.raises(MailboxProviderError) as caught:
        provider.set_photo(f"zed@{DOMAIN}", sample_image("PNG"), "image/png")
    assert not caught.value.retryable
    assert f"no Microsoft 365 user zed@{DOMAIN}" in str(caught.value)

    created = provider.create_mailbox(_new())
    graph.without_mailbox.add(created.provider_user_id)  # Exchange still making the mailbox
    with pytest.raises(MailboxProviderError) as caught:
        provider.set_photo(f"ann@{DOMAIN}", sample_image("PNG"), "image/png")
    assert caught.value.retryable
    assert "MailboxNotEnabledForRESTAPI" not in str(caught.value)
    assert "still being created" in str(caught.value)

    graph.without_mailbox.clear()
    provider.set_photo(f"ann@{DOMAIN}", sample_image("PNG"), "image/png")
    assert created.provider_user_id in graph.photos


@pytest.mark.parametrize("status", [429, 503])
def test_a_photo_graph_could_not_take_is_retryable(
    graph: FakeGraph, provider: MicrosoftProvider, verified: str, status: int
) -> None:
    created = provider.create_mailbox(_new())
    graph.fail_next(1, status=status)
    with pytest.raises(MailboxProviderError) as caught:
        provider.set_photo(f"ann@{DOMAIN}", sample_image("PNG"), "image/png")
    assert caught.value.retryable
    assert str(status) in str(caught.value)

    provider.set_photo(f"ann@{DOMAIN}", sample_image("PNG"), "image/png")
    assert _statuses(graph, "PUT", PHOTO) == [status, 200]
    assert created.provider_user_id in graph.photos


def test_a_catch_all_is_an_instruction_for_an_exchange_administrator(
    provider: MicrosoftProvider,
) -> None:
    with pytest.raises(MailboxProviderError) as caught:
        provider.set_forwarding(DOMAIN, catch_all="sink@example.org", forwards={})
    assert not caught.value.retryable
    message = str(caught.value)
    assert f"Set-AcceptedDomain -Identity {DOMAIN} -DomainType InternalRelay;" in message
    assert (
        f'New-TransportRule -Name "Mailfleet catch-all {DOMAIN}" -RecipientDomainIs {DOMAIN} '
        "-SentToScope NotInOrganization -RedirectMessageTo sink@example.org"
    ) in message

    with pytest.raises(MailboxProviderError) as caught:
        provider.set_forwarding(DOMAIN, catch_all=None, forwards={"ann": "ann@example.org"})
    message = str(caught.value)
    assert f'Remove-TransportRule -Identity "Mailfleet catch-all {DOMAIN}"' in message
    assert (
        f'New-TransportRule -Name "Mailfleet forward ann@{DOMAIN}" -Priority 0 '
        '-RecipientAddressMatchesPatterns "^ann@acme\\-mail\\.com$" '
        "-RedirectMessageTo ann@example.org -StopRuleProcessing $true;"
    ) in message


def test_wrong_credentials_and_missing_settings_are_permanent(
    graph: FakeGraph, make_provider: Callable[..., MicrosoftProvider]
) -> None:
    with pytest.raises(MailboxProviderError) as caught:
        make_provider(microsoft_client_secret="wrong").prepare_domain(DOMAIN)
    assert not caught.value.retryable
    assert "invalid_client" in str(caught.value)
    assert "AADSTS7000215" in str(caught.value)

    with pytest.raises(MailboxProviderError) as caught:
        make_provider(microsoft_tenant_id="").delete_mailbox(f"ann@{DOMAIN}")
    assert not caught.value.retryable
    assert "MAILFLEET_MICROSOFT_TENANT_ID" in str(caught.value)

    with pytest.raises(MailboxProviderError) as caught:
        make_provider(microsoft_license_sku_id="").create_mailbox(_new())
    assert not caught.value.retryable
    assert graph.calls("POST", "/v1.0/users") == []


def test_a_graph_that_does_not_answer_is_retryable(
    graph: FakeGraph, make_provider: Callable[..., MicrosoftProvider]
) -> None:
    with socket.socket() as silent:
        # Listening but never accepting: the connection opens, the TLS handshake never ends.
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        provider = make_provider(
            microsoft_graph_base_url=f"https://127.0.0.1:{port}/v1.0", microsoft_timeout=0.3
        )
        with pytest.raises(MailboxProviderError) as caught:
            provider.delete_mailbox(f"ann@{DOMAIN}")
    assert caught.value.retryable
    assert "did not answer" in str(caught.value)


def test_a_microsoft_order_is_provisioned_by_the_job(
    db: Database, make_client: Callable[..., TestClient], graph: FakeGraph
) -> None:
    registry.clear()
    client = make_client(
        recent_creation_rule="off", backend_microsoft="microsoft", **graph_settings(graph)
    )
    caller = make_tenant(db)
    domain = make_domain(db, caller.workspace_id)
    graph.publish_verification(domain.name)
    give_slots(db, caller.workspace_id, MailboxType.MICROSOFT, 5)
    # One order: Microsoft mailboxes cannot be added while earlier ones are still pending.
    response = client.post(
        "/v1/mailbox-orders",
        json=order_body(domain, ["ann", "bob"], "MICROSOFT"),
        headers=caller.headers,
    )
    assert response.status_code == 201, response.text

    drain(client.app.state.runtime)  # type: ignore[attr-defined]
    registry.clear()

    with db.transaction(write=False) as session:
        mailboxes = list(session.scalars(select(Mailbox)))
        order_status = session.scalars(select(MailboxOrder.status)).one()
    assert {m.status for m in mailboxes} == {MailboxStatus.ACTIVE}
    assert order_status == OrderStatus.COMPLETED
    assert graph.domains[domain.name]["isVerified"] is True
    for mailbox in mailboxes:
        user = graph.user(mailbox.address)
        assert user is not None
        assert mailbox.provider_user_id == user["id"]
        assert user["assignedLicenses"] == [{"skuId": EXCHANGE_PLAN_1, "disabledPlans": []}]
    first = graph.user(mailboxes[0].address) or {}
    creds = client.get(f"/v1/mailboxes/{mailboxes[0].id}/credentials", headers=caller.headers)
    body = creds.json()
    # The password the owner gets is the one Microsoft was given.
    assert body["password"] == first["passwordProfile"]["password"]
    assert (body["smtp_host"], body["smtp_port"], body["imap_host"]) == (
        "smtp.office365.com",
        587,
        "outlook.office365.com",
    )
    assert body["totp_secret"]
