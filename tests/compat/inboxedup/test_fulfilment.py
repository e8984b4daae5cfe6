"""Requests fulfilled by a backend read through InboxedUp with the same statuses as those an
operator fulfils: PENDING, then COMPLETED, PARTIAL or FAILED from the mailboxes' outcomes."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.mailboxes.providers import registry
from mailfleet.mailboxes.providers.base import MailboxProviderError
from mailfleet.models import MailboxType
from tests.factories import give_slots, make_domain, make_tenant
from tests.mailboxes.test_provisioning import RecordingProvider
from tests.support.jobs import drain

API = "/inboxedup"


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingProvider]:
    fake = RecordingProvider()
    monkeypatch.setattr(registry.MAILBOX_PROVIDERS, "build", lambda settings, name: fake)
    registry.clear()
    yield fake
    registry.clear()


@pytest.fixture
def automated(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(backend_smtp="smtp", mailbox_provision_backoff=[30])


@pytest.mark.parametrize(
    ("failing", "request_status", "statuses"),
    [
        ((), "COMPLETED", ["ACTIVE", "ACTIVE"]),
        (("bob",), "PARTIAL", ["ACTIVE", "FAILED"]),
        (("ann", "bob"), "FAILED", ["FAILED", "FAILED"]),
    ],
)
def test_a_backend_fulfils_the_request(
    db: Database,
    automated: TestClient,
    provider: RecordingProvider,
    failing: tuple[str, ...],
    request_status: str,
    statuses: list[str],
) -> None:
    owner = make_tenant(db)
    domain = make_domain(db, owner.workspace_id)
    give_slots(db, owner.workspace_id, MailboxType.SMTP, 10)
    for username in failing:
        provider.failures[f"{username}@{domain.name}"] = [
            MailboxProviderError("400 refused", retryable=False)
        ]
    body = {
        "domain": domain.name,
        "type": "smtp",
        "mailboxes": [
            {"firstName": "Ann", "lastName": "Lee", "mailboxUsername": "ann"},
            {"firstName": "Bob", "lastName": "Ray", "mailboxUsername": "bob"},
        ],
    }
    created = automated.post(f"{API}/mailboxes", json=body, headers=owner.headers)
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "pending"

    drain(automated.app.state.runtime)  # type: ignore[attr-defined]

    data = automated.get(f"{API}/mailboxes/{created.json()['requestId']}", headers=owner.headers)
    assert data.json()["data"]["status"] == request_status
    assert [m["status"] for m in data.json()["data"]["mailboxes"]] == statuses
    account = automated.get(f"{API}/account", headers=owner.headers).json()["data"]
    smtp = next(a for a in account["allocations"] if a["type"] == "SMTP")
    # Failed mailboxes free their slots; the others hold theirs.
    assert smtp["used"] == statuses.count("ACTIVE")
