"""The MailboxProvider contract, checked on every implementation
(mailfleet/mailboxes/providers/base.py).

`smtp` runs against the real Postfix/Dovecot pair the tests start, `google` and `microsoft`
against the local fakes of their APIs (tests/fakes). What is checked is what the provisioning
job relies on, not how a provider does it: a prepared domain takes mailboxes; creating one
works and repeating it is recognised, not repeated; renames and deletes are done once however
often they are asked for; mistakes a retry cannot fix are permanent errors; where a provider
cannot do something (forwarding at Google or Microsoft) it says what to do instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial

import pytest

from mailfleet.config import Settings
from mailfleet.demo.mailserver import MailServer
from mailfleet.mailboxes.providers.base import (
    BatchMailboxProvider,
    MailboxProvider,
    MailboxProviderError,
    NewMailbox,
)
from mailfleet.mailboxes.providers.registry import MAILBOX_PROVIDERS
from tests.fakes.google import FakeGoogle
from tests.fakes.graph import EXCHANGE_PLAN_1, FakeGraph
from tests.fakes.photos import sample_image

PASSWORD = "Correct-horse-42!batt"
SECURITY = {"starttls", "ssl", "none"}


@dataclass
class Harness:
    registered: str
    provider: MailboxProvider
    # Make `domain` ready for mailboxes the way the deployment does (publishing the
    # provider's verification TXT, then prepare_domain).
    ready: Callable[[str], None]
    # Whether the account exists at the provider, and whether this password opens it.
    exists: Callable[[str], bool]
    logs_in: Callable[[str, str], bool]
    # (first, last) as the provider holds them, or None where it keeps no names.
    names: Callable[[str], tuple[str, str] | None]
    # The provider's changes may take a moment to show (Postfix reloads, Dovecot re-reads).
    eventually: Callable[[Callable[[], bool], str], None]


def at_once(check: Callable[[], bool], what: str) -> None:
    assert check(), what


def smtp_harness(server: MailServer) -> Harness:
    provider = MAILBOX_PROVIDERS.build(Settings(**server.settings()), "smtp")
    return Harness(
        "smtp",
        provider,
        ready=provider.prepare_domain,
        exists=server.accepts_recipient,
        logs_in=server.login_works,
        names=lambda address: None,
        eventually=lambda check, what: server.wait_for(check, what),
    )


def google_harness(fake: FakeGoogle) -> Harness:
    provider = MAILBOX_PROVIDERS.build(Settings(**fake.settings_overrides()), "google")

    def ready(domain: str) -> None:
        fake.publish_txt(domain, provider.verification_token(domain))  # type: ignore[attr-defined]
        provider.prepare_domain(domain)

    def names(address: str) -> tuple[str, str] | None:
        user = fake.user(address)
        assert user is not None
        return user["name"]["givenName"], user["name"]["familyName"]

    def logs_in(address: str, password: str) -> bool:
        user = fake.user(address)
        return user is not None and user["password"] == password and not user["suspended"]

    return Harness(
        "google",
        provider,
        ready,
        exists=lambda address: fake.user(address) is not None,
        logs_in=logs_in,
        names=names,
        eventually=at_once,
    )


def microsoft_harness(graph: FakeGraph) -> Harness:
    settings = Settings(
        microsoft_tenant_id=graph.tenant_id,
        microsoft_client_id=graph.client_id,
        microsoft_client_secret=graph.client_secret,
        microsoft_authority_base_url=graph.authority_base,
        microsoft_graph_base_url=graph.graph_base_url,
        microsoft_license_sku_id=EXCHANGE_PLAN_1,
    )
    provider = MAILBOX_PROVIDERS.build(settings, "microsoft")

    def ready(domain: str) -> None:
        graph.publish_verification(domain)
        provider.prepare_domain(domain)

    def names(address: str) -> tuple[str, str] | None:
        user = graph.user(address)
        assert user is not None
        return user["givenName"], user["surname"]

    def logs_in(address: str, password: str) -> bool:
        user = graph.user(address)
        return (
            user is not None
            and user["accountEnabled"]
            and user["passwordProfile"]["password"] == password
        )

    return Harness(
        "microsoft",
        provider,
        ready,
        exists=lambda address: graph.user(address) is not None,
        logs_in=logs_in,
        names=names,
        eventually=at_once,
    )


@pytest.fixture(params=["smtp", "google", "microsoft"])
def harness(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    name = str(request.param)
    if name == "smtp":
        yield smtp_harness(request.getfixturevalue("mail_server"))
    elif name == "google":
        with FakeGoogle() as fake:
            yield google_harness(fake)
    else:
        with FakeGraph() as graph:
            # msal takes only an https authority: the fake's own CA is trusted for the test.
            monkeypatch.setenv("SSL_CERT_FILE", str(graph.ca_file))
            yield microsoft_harness(graph)


@pytest.fixture
def domain(harness: Harness, unique_domain: Callable[[str], str]) -> str:
    name = unique_domain("conf")
    harness.ready(name)
    return name


def new(address: str, first: str = "Ada", last: str = "Lovelace") -> NewMailbox:
    return NewMailbox(address=address, first_name=first, last_name=last, password=PASSWORD)


def test_the_provider_has_its_registered_name(harness: Harness) -> None:
    # Settings name backends by it (MAILFLEET_BACKEND_<TYPE>).
    assert harness.provider.name == harness.registered


def test_a_prepared_domain_takes_a_mailbox_that_logs_in(harness: Harness, domain: str) -> None:
    address = f"ada@{domain}"

    created = harness.provider.create_mailbox(new(address))

    assert created.provider_user_id
    connection = created.connection
    assert connection.smtp_host
    assert connection.imap_host
    assert connection.smtp_port > 0
    assert connection.imap_port > 0
    assert {connection.smtp_security, connection.imap_security} <= SECURITY
    harness.eventually(lambda: harness.logs_in(address, PASSWORD), f"{address} logs in")
    assert not harness.logs_in(address, PASSWORD + "x")


def test_preparing_a_domain_again_changes_nothing(harness: Harness, domain: str) -> None:
    harness.provider.create_mailbox(new(f"ann@{domain}"))

    harness.provider.prepare_domain(domain)

    harness.eventually(lambda: harness.logs_in(f"ann@{domain}", PASSWORD), "still logs in")


def test_creating_again_is_recognised_not_repeated(harness: Harness, domain: str) -> None:
    # A retried job: the first answer was lost after the account was made.
    first = harness.provider.create_mailbox(new(f"bob@{domain}"))
    again = harness.provider.create_mailbox(new(f"bob@{domain}"))

    assert again.provider_user_id == first.provider_user_id
    harness.eventually(lambda: harness.logs_in(f"bob@{domain}", PASSWORD), "bob logs in")


def test_a_name_change_is_applied(harness: Harness, domain: str) -> None:
    address = f"cy@{domain}"
    harness.provider.create_mailbox(new(address))

    harness.provider.update_mailbox(address, first_name="Grace", last_name="Hopper")

    assert harness.names(address) in (None, ("Grace", "Hopper"))


def test_a_rename_moves_the_account_once(harness: Harness, domain: str) -> None:
    old, renamed = f"dee@{domain}", f"dee.new@{domain}"
    harness.provider.create_mailbox(new(old))
    harness.eventually(lambda: harness.exists(old), f"{old} exists")

    user_id = harness.provider.rename_mailbox(old, renamed)
    # Asked again (its answer lost): already done is success.
    assert harness.provider.rename_mailbox(old, renamed) == user_id

    assert user_id
    # The password moved with the account. Whether the old address still reaches it is the
    # provider's: Google keeps it as an alias, the others drop it.
    harness.eventually(lambda: harness.logs_in(renamed, PASSWORD), f"{renamed} logs in")


def test_a_deleted_mailbox_stops_working_and_deleting_again_is_fine(
    harness: Harness, domain: str
) -> None:
    address = f"eve@{domain}"
    harness.provider.create_mailbox(new(address))
    harness.eventually(lambda: harness.logs_in(address, PASSWORD), f"{address} logs in")

    harness.provider.delete_mailbox(address)
    harness.provider.delete_mailbox(address)
    harness.provider.delete_mailbox(f"never-made@{domain}")

    harness.eventually(lambda: not harness.exists(address), f"{address} is gone")
    assert not harness.logs_in(address, PASSWORD)


def test_mistakes_a_retry_cannot_fix_are_permanent(harness: Harness, domain: str) -> None:
    calls: list[Callable[[], object]] = [
        lambda: harness.provider.create_mailbox(new("not-an-address")),
        lambda: harness.provider.create_mailbox(new(f"ann@{domain}..bad")),
        lambda: harness.provider.update_mailbox(f"nobody@{domain}", first_name="A", last_name="B"),
    ]
    for call in calls:
        with pytest.raises(MailboxProviderError) as caught:
            call()
        assert not caught.value.retryable
        assert str(caught.value)


def test_a_photo_is_taken_where_the_provider_has_them(harness: Harness, domain: str) -> None:
    address = f"fay@{domain}"
    harness.provider.create_mailbox(new(address))

    harness.provider.set_photo(address, sample_image("PNG"), "image/png")


def test_forwarding_is_applied_or_refused_saying_what_to_do(harness: Harness, domain: str) -> None:
    refusal: MailboxProviderError | None = None
    try:
        harness.provider.set_forwarding(
            domain, catch_all=f"inbox@{domain}", forwards={"sales": "team@example.com"}
        )
    except MailboxProviderError as exc:
        refusal = exc
    if refusal is not None:
        # Not doable through this provider's API: a person must, and is told where.
        assert not refusal.retryable
        assert domain in str(refusal)


# The batch call is optional in the protocol; these implementations offer it.
@pytest.mark.parametrize("harness", ["smtp"], indirect=True)
def test_a_batch_round_gives_one_result_per_mailbox(harness: Harness, domain: str) -> None:
    provider = harness.provider
    assert isinstance(provider, BatchMailboxProvider)
    batch = [new(f"gus@{domain}"), new("not-an-address"), new(f"hal@{domain}")]

    results = provider.create_mailboxes(batch)
    again = provider.create_mailboxes(batch)

    assert len(results) == len(batch)
    assert isinstance(results[1], MailboxProviderError)
    assert not results[1].retryable
    for index in (0, 2):
        assert not isinstance(results[index], MailboxProviderError)
        assert again[index] == results[index]
        address = batch[index].address
        harness.eventually(partial(harness.logs_in, address, PASSWORD), f"{address} logs in")
