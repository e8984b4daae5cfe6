"""The provisioning job: PENDING -> PROVISIONING -> ACTIVE, retries, permanent failures, crashes.

These tests drive the job against a recording provider that behaves like the real ones
(idempotent create, retryable and permanent errors); the Postfix/Dovecot provider itself is
tested against real servers in test_smtp_provider.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from mailfleet.db import Database
from mailfleet.jobs.worker import sweep
from mailfleet.kit import clock
from mailfleet.kit.crypto import SecretBox
from mailfleet.mailboxes import provisioning
from mailfleet.mailboxes.providers import registry
from mailfleet.mailboxes.providers.base import (
    Connection,
    MailboxProviderError,
    NewMailbox,
    ProvisionedMailbox,
)
from mailfleet.models import Domain, Mailbox, MailboxOrder, MailboxStatus, MailboxType, OrderStatus
from tests.factories import give_slots, make_domain, make_tenant, order_body
from tests.support.jobs import drain

CONNECTION = Connection("smtp.test", 587, "starttls", "imap.test", 993, "ssl")


@dataclass
class RecordingProvider:
    name: str = "smtp"
    mailboxes: dict[str, str] = field(default_factory=dict)  # address -> password
    creates: list[str] = field(default_factory=list)
    domains: set[str] = field(default_factory=set)
    # address -> errors to raise on the next create calls, in order
    failures: dict[str, list[MailboxProviderError]] = field(default_factory=dict)

    def prepare_domain(self, domain: str) -> None:
        self.domains.add(domain)

    def create_mailbox(self, mailbox: NewMailbox) -> ProvisionedMailbox:
        self.creates.append(mailbox.address)
        pending = self.failures.get(mailbox.address)
        if pending:
            raise pending.pop(0)
        self.mailboxes[mailbox.address] = mailbox.password
        return ProvisionedMailbox(mailbox.address, CONNECTION)

    names: dict[str, tuple[str, str]] = field(default_factory=dict)
    photos: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    verification: str | None = None

    def update_mailbox(self, address: str, *, first_name: str, last_name: str) -> None:
        self.names[address] = (first_name, last_name)

    def rename_mailbox(self, old_address: str, new_address: str) -> str:
        if old_address in self.mailboxes:
            self.mailboxes[new_address] = self.mailboxes.pop(old_address)
        return new_address

    def set_photo(self, address: str, image: bytes, content_type: str) -> None:
        self.photos[address] = (image, content_type)

    def verification_token(self, domain: str) -> str | None:
        return self.verification

    def delete_mailbox(self, address: str) -> None:
        self.mailboxes.pop(address, None)

    def set_forwarding(
        self, domain: str, *, catch_all: str | None, forwards: Mapping[str, str]
    ) -> None:
        pass


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingProvider]:
    fake = RecordingProvider()
    monkeypatch.setattr(registry.MAILBOX_PROVIDERS, "build", lambda settings, name: fake)
    registry.clear()
    yield fake
    registry.clear()


@pytest.fixture
def smtp_client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(
        recent_creation_rule="off", backend_smtp="smtp", mailbox_provision_backoff=[30]
    )


def _order(db: Database, client: TestClient, usernames: list[str]) -> tuple[dict[str, str], str]:
    caller = make_tenant(db)
    domain = make_domain(db, caller.workspace_id)
    give_slots(db, caller.workspace_id, MailboxType.SMTP, 10)
    response = client.post(
        "/v1/mailbox-orders", json=order_body(domain, usernames, "SMTP"), headers=caller.headers
    )
    assert response.status_code == 201, response.text
    return caller.headers, response.json()["id"]


def _mailboxes(db: Database) -> dict[str, Mailbox]:
    with db.transaction(write=False) as session:
        return {m.username: m for m in session.scalars(select(Mailbox))}


def _order_status(db: Database) -> OrderStatus:
    with db.transaction(write=False) as session:
        return session.scalars(select(MailboxOrder.status)).one()


def _run(client: TestClient) -> None:
    drain(client.app.state.runtime)  # type: ignore[attr-defined]


def test_an_order_provisions_itself(
    db: Database, smtp_client: TestClient, provider: RecordingProvider
) -> None:
    headers, _ = _order(db, smtp_client, ["ann", "bob", "cy"])
    assert {m.status for m in _mailboxes(db).values()} == {MailboxStatus.PENDING}

    _run(smtp_client)

    mailboxes = _mailboxes(db)
    assert {m.status for m in mailboxes.values()} == {MailboxStatus.ACTIVE}
    assert _order_status(db) == OrderStatus.COMPLETED
    ann = mailboxes["ann"]
    creds = smtp_client.get(f"/v1/mailboxes/{ann.id}/credentials", headers=headers).json()
    # The password the user gets is the one the provider was given.
    assert creds["password"] == provider.mailboxes[ann.address]
    assert (creds["smtp_host"], creds["smtp_port"], creds["smtp_security"]) == (
        "smtp.test",
        587,
        "starttls",
    )
    assert sorted(provider.creates) == sorted(m.address for m in mailboxes.values())


def test_a_retryable_error_backs_off_then_succeeds(
    db: Database, smtp_client: TestClient, provider: RecordingProvider
) -> None:
    headers, _ = _order(db, smtp_client, ["ann"])
    address = next(iter(_mailboxes(db).values())).address
    provider.failures[address] = [MailboxProviderError("429 Too Many Requests", retryable=True)]

    _run(smtp_client)
    [mailbox] = _mailboxes(db).values()
    assert mailbox.status == MailboxStatus.PROVISIONING
    assert "retrying" in (mailbox.failure_reason or "")
    assert _order_status(db) == OrderStatus.IN_PROGRESS

    clock.advance(31)
    sweep(smtp_client.app.state.runtime)  # type: ignore[attr-defined]
    _run(smtp_client)
    [mailbox] = _mailboxes(db).values()
    assert mailbox.status == MailboxStatus.ACTIVE
    assert mailbox.failure_reason is None
    assert provider.creates == [address, address]
    assert _order_status(db) == OrderStatus.COMPLETED


def test_a_permanent_error_fails_the_mailbox_with_the_reason(
    db: Database, smtp_client: TestClient, provider: RecordingProvider
) -> None:
    _order(db, smtp_client, ["ann", "bob"])
    mailboxes = _mailboxes(db)
    provider.failures[mailboxes["bob"].address] = [
        MailboxProviderError("400 Invalid given name", retryable=False)
    ]

    _run(smtp_client)

    mailboxes = _mailboxes(db)
    assert mailboxes["ann"].status == MailboxStatus.ACTIVE
    assert mailboxes["bob"].status == MailboxStatus.FAILED
    assert mailboxes["bob"].failure_reason == "400 Invalid given name"
    assert _order_status(db) == OrderStatus.PARTIAL


def test_too_many_retries_give_up(
    db: Database, make_client: Callable[..., TestClient], provider: RecordingProvider
) -> None:
    client = make_client(
        recent_creation_rule="off",
        backend_smtp="smtp",
        mailbox_provision_max_attempts=2,
        mailbox_provision_backoff=[5],
    )
    _order(db, client, ["ann"])
    address = next(iter(_mailboxes(db).values())).address
    provider.failures[address] = [MailboxProviderError("503", retryable=True) for _ in range(5)]
    _run(client)
    clock.advance(6)
    sweep(client.app.state.runtime)  # type: ignore[attr-defined]
    _run(client)
    [mailbox] = _mailboxes(db).values()
    assert mailbox.status == MailboxStatus.FAILED
    assert mailbox.failure_reason == "Gave up after 2 tries: 503"


def test_a_lost_job_is_finished_by_the_sweep_without_a_second_mailbox(
    db: Database, smtp_client: TestClient, provider: RecordingProvider
) -> None:
    _order(db, smtp_client, ["ann"])
    runtime = smtp_client.app.state.runtime  # type: ignore[attr-defined]
    # The worker created the mailbox at the provider, then died before recording it.
    task = runtime.huey.dequeue()
    box = SecretBox.from_settings(runtime.settings)
    with db.transaction() as session:
        [work] = provisioning.start(
            session, runtime.settings, box, [m.id for m in _mailboxes(db).values()]
        )
    provider.create_mailbox(
        NewMailbox(work.address, work.first_name, work.last_name, work.password)
    )
    assert task is not None

    clock.advance(runtime.settings.job_lease_seconds + 1)
    assert sweep(runtime) >= 1
    _run(smtp_client)

    [mailbox] = _mailboxes(db).values()
    assert mailbox.status == MailboxStatus.ACTIVE
    assert list(provider.mailboxes) == [mailbox.address]
    assert provider.mailboxes[mailbox.address] == box.decrypt(mailbox.password_enc or "")


def test_removing_a_mailbox_deletes_it_at_the_provider(
    db: Database, smtp_client: TestClient, provider: RecordingProvider
) -> None:
    headers, _ = _order(db, smtp_client, ["ann"])
    _run(smtp_client)
    [mailbox] = _mailboxes(db).values()
    assert mailbox.address in provider.mailboxes

    response = smtp_client.delete(f"/v1/mailboxes/{mailbox.id}", headers=headers)
    assert response.status_code == 200, response.text
    _run(smtp_client)

    assert mailbox.address not in provider.mailboxes


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def test_profile_changes_reach_the_provider(
    db: Database, smtp_client: TestClient, provider: RecordingProvider
) -> None:
    headers, _ = _order(db, smtp_client, ["ann"])
    _run(smtp_client)
    [mailbox] = _mailboxes(db).values()

    renamed = smtp_client.patch(
        f"/v1/mailboxes/{mailbox.id}",
        json={"username": "anna", "first_name": "Anna"},
        headers=headers,
    )
    assert renamed.status_code == 200, renamed.text
    picture = smtp_client.put(
        f"/v1/mailboxes/{mailbox.id}/picture",
        content=PNG,
        headers={**headers, "content-type": "image/png"},
    )
    assert picture.status_code == 200, picture.text
    _run(smtp_client)

    new_address = renamed.json()["address"]
    assert new_address.startswith("anna@")
    assert list(provider.mailboxes) == [new_address]
    assert provider.names[new_address][0] == "Anna"
    assert provider.photos[new_address] == (PNG, "image/png")
    served = smtp_client.get(f"/v1/mailboxes/{mailbox.id}/picture", headers=headers)
    assert (served.status_code, served.content) == (200, PNG)
    assert served.headers["content-type"] == "image/png"


@pytest.mark.parametrize(
    ("body", "code"),
    [(b"", "picture_missing"), (b"GIF89a" + b"\x00" * 10, "picture_type")],
)
def test_bad_pictures_are_refused(
    db: Database, smtp_client: TestClient, provider: RecordingProvider, body: bytes, code: str
) -> None:
    headers, _ = _order(db, smtp_client, ["ann"])
    [mailbox] = _mailboxes(db).values()
    response = smtp_client.put(
        f"/v1/mailboxes/{mailbox.id}/picture",
        content=body,
        headers={**headers, "content-type": "image/png"},
    )
    assert response.status_code == 422
    assert response.json()["code"] == code
    assert (
        smtp_client.get(f"/v1/mailboxes/{mailbox.id}", headers=headers).json()[
            "profile_picture_url"
        ]
        is None
    )


def test_the_providers_ownership_record_is_published_in_the_zone(
    db: Database, make_client: Callable[..., TestClient], provider: RecordingProvider
) -> None:
    client = make_client(recent_creation_rule="off", backend_google="smtp")
    provider.verification = "google-site-verification=abc123"
    caller = make_tenant(db)
    domain = make_domain(db, caller.workspace_id)
    with db.transaction() as session:
        session.get(Domain, domain.id).zone_id = domain.name  # type: ignore[union-attr]
    give_slots(db, caller.workspace_id, MailboxType.GOOGLE, 3)
    response = client.post(
        "/v1/mailbox-orders", json=order_body(domain, ["ann"], "GOOGLE"), headers=caller.headers
    )
    assert response.status_code == 201, response.text
    _run(client)

    records = client.get(f"/v1/domains/{domain.id}/dns/records", headers=caller.headers).json()
    txt = [r["content"] for r in records["items"] if r["type"] == "TXT" and r["managed"]]
    assert "google-site-verification=abc123" in txt


def test_removal_at_renewal_happens_on_its_own(
    db: Database, smtp_client: TestClient, provider: RecordingProvider
) -> None:
    headers, _ = _order(db, smtp_client, ["ann"])
    _run(smtp_client)
    [mailbox] = _mailboxes(db).values()
    scheduled = smtp_client.post(f"/v1/mailboxes/{mailbox.id}/scheduled-removal", headers=headers)
    assert scheduled.status_code == 200, scheduled.text

    clock.advance(40 * 86400)  # past the renewal date
    sweep(smtp_client.app.state.runtime)  # type: ignore[attr-defined]
    _run(smtp_client)

    [mailbox] = _mailboxes(db).values()
    assert mailbox.status == MailboxStatus.REMOVED
    assert mailbox.address not in provider.mailboxes


def test_each_round_is_logged_in_one_line_without_secrets(
    db: Database,
    smtp_client: TestClient,
    provider: RecordingProvider,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _order(db, smtp_client, ["ann", "bob", "cy"])
    mailboxes = _mailboxes(db)
    provider.failures[mailboxes["bob"].address] = [
        MailboxProviderError("429 Too Many Requests", retryable=True)
    ]
    provider.failures[mailboxes["cy"].address] = [
        MailboxProviderError("400 Invalid given name", retryable=False)
    ]
    with caplog.at_level(logging.INFO, logger="mailfleet"):
        _run(smtp_client)
    [line] = [r for r in caplog.records if r.getMessage().startswith("provisioning round")]
    message = line.getMessage()
    assert line.levelno == logging.INFO
    assert message.startswith("provisioning round at smtp: 3 mailbox(es) (")
    assert all(m.address in message for m in mailboxes.values())
    assert "1 created, 1 to retry, 1 refused" in message
    assert "429 Too Many Requests" in message
    # The passwords the provider was given appear nowhere in the log.
    assert provider.mailboxes
    assert not any(password in caplog.text for password in provider.mailboxes.values())
