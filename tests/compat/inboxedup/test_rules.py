"""The document's rules through /inboxedup, at their boundaries; a refused request changes
nothing."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.models import DomainStatus, Mailbox, MailboxOrder, MailboxStatus, MailboxType
from tests.factories import count_rows, give_slots, make_domain, make_mailbox, make_tenant

API = "/inboxedup"
LIMITS = {"microsoft": 3, "google": 3, "smtp": 5, "smtp_dedicated": 10}


def request_body(domain: str, mailbox_type: str, usernames: list[str]) -> dict[str, Any]:
    return {
        "domain": domain,
        "type": mailbox_type,
        "mailboxes": [
            {"firstName": "Ann", "lastName": "Lee", "mailboxUsername": name} for name in usernames
        ],
    }


def names(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(count)]


def assert_refused(response: Any, status: int, code: str, field: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    if field is not None:
        assert body["error"]["field"] == field


@pytest.mark.parametrize(("word", "limit"), sorted(LIMITS.items()))
def test_per_domain_limit_counts_every_request_but_failed_ones(
    db: Database, client: TestClient, word: str, limit: int
) -> None:
    owner = make_tenant(db)
    mailbox_type = MailboxType(word.upper())
    domain = make_domain(db, owner.workspace_id)
    give_slots(db, owner.workspace_id, mailbox_type, 50)

    # Several requests on one domain, up to the limit: the document counts pending ones.
    first = client.post(
        f"{API}/mailboxes",
        json=request_body(domain.name, word, names("a", limit - 1)),
        headers=owner.headers,
    )
    assert first.status_code == 201, first.text
    last = client.post(
        f"{API}/mailboxes", json=request_body(domain.name, word, ["last"]), headers=owner.headers
    )
    assert last.status_code == 201, last.text

    before = count_rows(db, Mailbox), count_rows(db, MailboxOrder)
    over = client.post(
        f"{API}/mailboxes", json=request_body(domain.name, word, ["over"]), headers=owner.headers
    )
    assert_refused(over, 422, "domain_mailbox_limit")
    assert (count_rows(db, Mailbox), count_rows(db, MailboxOrder)) == before


def test_failed_mailboxes_free_their_places(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    domain = make_domain(db, owner.workspace_id, mailbox_type=MailboxType.GOOGLE)
    give_slots(db, owner.workspace_id, MailboxType.GOOGLE, 10)
    for _ in range(3):
        make_mailbox(db, domain, status=MailboxStatus.FAILED)
    make_mailbox(db, domain, status=MailboxStatus.ACTIVE)

    ok = client.post(
        f"{API}/mailboxes",
        json=request_body(domain.name, "google", ["b0", "b1"]),
        headers=owner.headers,
    )
    assert ok.status_code == 201, ok.text
    over = client.post(
        f"{API}/mailboxes", json=request_body(domain.name, "GOOGLE", ["b2"]), headers=owner.headers
    )
    assert_refused(over, 422, "domain_mailbox_limit")


@pytest.mark.parametrize(
    "status", [DomainStatus.PENDING_NS, DomainStatus.QUEUED, DomainStatus.FAILED]
)
def test_the_domain_must_be_active(db: Database, client: TestClient, status: DomainStatus) -> None:
    owner = make_tenant(db)
    domain = make_domain(db, owner.workspace_id, status=status)
    give_slots(db, owner.workspace_id, MailboxType.SMTP, 10)
    response = client.post(
        f"{API}/mailboxes", json=request_body(domain.name, "smtp", ["a"]), headers=owner.headers
    )
    assert_refused(response, 422, "domain_not_active")
    assert count_rows(db, Mailbox) == 0


def test_no_allocation_left_is_a_403(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    domain = make_domain(db, owner.workspace_id)
    give_slots(db, owner.workspace_id, MailboxType.SMTP, 2)
    exact = client.post(
        f"{API}/mailboxes",
        json=request_body(domain.name, "smtp", ["a", "b"]),
        headers=owner.headers,
    )
    assert exact.status_code == 201, exact.text
    other = make_domain(db, owner.workspace_id)
    over = client.post(
        f"{API}/mailboxes", json=request_body(other.name, "smtp", ["c"]), headers=owner.headers
    )
    assert_refused(over, 403, "quota_exceeded")
    account = client.get(f"{API}/account", headers=owner.headers).json()["data"]
    smtp = next(a for a in account["allocations"] if a["type"] == "SMTP")
    assert smtp == {"type": "SMTP", "allocated": 2, "used": 2, "remaining": 0}


@pytest.mark.parametrize("bad", ["-john", "jo hn", "a" * 65, "john..smith", "jöhn"])
def test_usernames_follow_the_rules(db: Database, client: TestClient, bad: str) -> None:
    owner = make_tenant(db)
    domain = make_domain(db, owner.workspace_id)
    give_slots(db, owner.workspace_id, MailboxType.SMTP, 10)
    response = client.post(
        f"{API}/mailboxes",
        json=request_body(domain.name, "smtp", ["fine", bad]),
        headers=owner.headers,
    )
    assert_refused(response, 422, "invalid_username")
    assert count_rows(db, Mailbox) == 0


def test_a_taken_username_is_refused(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    domain = make_domain(db, owner.workspace_id)
    give_slots(db, owner.workspace_id, MailboxType.SMTP, 10)
    body = request_body(domain.name, "smtp", ["same"])
    assert client.post(f"{API}/mailboxes", json=body, headers=owner.headers).status_code == 201
    assert_refused(
        client.post(f"{API}/mailboxes", json=body, headers=owner.headers), 422, "username_taken"
    )


@pytest.mark.parametrize(
    "word", ["microsoft", "MICROSOFT", "Microsoft", "smtp_dedicated", "SMTP_DEDICATED"]
)
def test_type_is_accepted_in_any_case(db: Database, client: TestClient, word: str) -> None:
    owner = make_tenant(db)
    domain = make_domain(db, owner.workspace_id)
    give_slots(db, owner.workspace_id, MailboxType(word.upper()), 5)
    response = client.post(
        f"{API}/mailboxes", json=request_body(domain.name, word, ["a"]), headers=owner.headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["type"] == word.lower()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {
                "domain": "x.com",
                "type": "outlook",
                "mailboxes": [{"firstName": "a", "lastName": "b", "mailboxUsername": "c"}],
            },
            "type",
        ),
        (
            {
                "type": "smtp",
                "mailboxes": [{"firstName": "a", "lastName": "b", "mailboxUsername": "c"}],
            },
            "domain",
        ),
        ({"domain": "x.com", "type": "smtp", "mailboxes": []}, "mailboxes"),
        (
            {
                "domain": "x.com",
                "type": "smtp",
                "mailboxes": [{"firstName": "a", "mailboxUsername": "c"}],
            },
            "mailboxes[0].lastName",
        ),
        (
            {
                "domain": 5,
                "type": "smtp",
                "mailboxes": [{"firstName": "a", "lastName": "b", "mailboxUsername": "c"}],
            },
            "domain",
        ),
    ],
)
def test_malformed_requests_are_400_naming_the_field(
    db: Database, client: TestClient, body: dict[str, Any], field: str
) -> None:
    owner = make_tenant(db)
    make_domain(db, owner.workspace_id, name="x.com")
    give_slots(db, owner.workspace_id, MailboxType.SMTP, 5)
    response = client.post(f"{API}/mailboxes", json=body, headers=owner.headers)
    assert_refused(response, 400, "validation_error", field)
    assert count_rows(db, Mailbox) == 0


def test_another_accounts_domain_is_not_found(db: Database, client: TestClient) -> None:
    owner, intruder = make_tenant(db), make_tenant(db)
    domain = make_domain(db, owner.workspace_id)
    give_slots(db, intruder.workspace_id, MailboxType.SMTP, 5)
    for ref in (domain.name, f"dom_{domain.id.hex}"):
        response = client.post(
            f"{API}/mailboxes", json=request_body(ref, "smtp", ["a"]), headers=intruder.headers
        )
        assert_refused(response, 404, "domain_not_found")
    assert count_rows(db, Mailbox) == 0


def test_the_native_rules_the_document_lacks_stay_off(db: Database, make_client: Any) -> None:
    # The deployment runs the 24-hour rule and the Microsoft wait natively; InboxedUp does not.
    client = make_client(recent_creation_rule="seed", microsoft_wait_for_active=True)
    owner = make_tenant(db)
    domain = make_domain(db, owner.workspace_id)
    give_slots(db, owner.workspace_id, MailboxType.MICROSOFT, 5)
    for username in ("one", "two"):
        response = client.post(
            f"{API}/mailboxes",
            json=request_body(domain.name, "microsoft", [username]),
            headers=owner.headers,
        )
        assert response.status_code == 201, response.text
    native = client.post(
        "/v1/mailbox-orders",
        json={
            "domain": domain.name,
            "type": "MICROSOFT",
            "mailboxes": [{"first_name": "a", "last_name": "b", "username": "three"}],
        },
        headers=owner.headers,
    )
    assert native.status_code == 409, native.text
    assert native.json()["code"] in {"recent_mailbox_creation", "microsoft_mailboxes_not_active"}


def test_a_deployment_can_turn_them_on_for_inboxedup(db: Database, make_client: Any) -> None:
    client = make_client(inboxedup_microsoft_wait_for_active=True)
    owner = make_tenant(db)
    domain = make_domain(db, owner.workspace_id)
    give_slots(db, owner.workspace_id, MailboxType.MICROSOFT, 5)
    body = request_body(domain.name, "microsoft", ["one"])
    assert client.post(f"{API}/mailboxes", json=body, headers=owner.headers).status_code == 201
    again = client.post(
        f"{API}/mailboxes",
        json=request_body(domain.name, "microsoft", ["two"]),
        headers=owner.headers,
    )
    assert_refused(again, 422, "microsoft_mailboxes_not_active")


def test_the_documents_limits_hold_whatever_the_deployments_are(
    db: Database, make_client: Any
) -> None:
    client = make_client(domain_limit_smtp=1)
    owner = make_tenant(db)
    domain = make_domain(db, owner.workspace_id)
    give_slots(db, owner.workspace_id, MailboxType.SMTP, 10)
    native = client.post(
        "/v1/mailbox-orders",
        json={
            "domain": domain.name,
            "type": "SMTP",
            "mailboxes": [
                {"first_name": "a", "last_name": "b", "username": u} for u in ("n1", "n2")
            ],
        },
        headers=owner.headers,
    )
    assert native.status_code == 409, native.text
    compat = client.post(
        f"{API}/mailboxes",
        json=request_body(domain.name, "smtp", names("c", 5)),
        headers=owner.headers,
    )
    assert compat.status_code == 201, compat.text
