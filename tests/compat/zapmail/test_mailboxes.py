"""Zapmail's mailbox endpoints against /zapmail/api: the document's examples field by field,
its rules through this surface, v1 against v2."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from mailfleet.db import Database
from mailfleet.kit import clock
from mailfleet.mailboxes.actions.service import authenticator_code
from mailfleet.models import DomainStatus, Mailbox, MailboxOrder, MailboxStatus, MailboxType, Role
from tests.factories import give_slots, make_domain, make_mailbox, make_member, make_tenant

API = "/zapmail/api"
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
TOTP = "JBSWY3DPEHPK3PXP"


def _with_logins(db: Database, client: TestClient, mailbox_id: uuid.UUID) -> None:
    secrets = client.app.state.secrets  # type: ignore[attr-defined]
    with db.transaction() as session:
        session.execute(
            update(Mailbox)
            .where(Mailbox.id == mailbox_id)
            .values(
                password_enc=secrets.encrypt("s3cret-pass"),
                app_password_enc=secrets.encrypt("nfd2 jk43 4jas hfdj"),
                totp_secret_enc=secrets.encrypt(TOTP),
            )
        )


def _count(db: Database, model: Any) -> int:
    with db.transaction(write=False) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_assign_example_answers_the_documented_body(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    domain = make_domain(db, owner.workspace_id, name="azhaz.com")
    give_slots(db, owner.workspace_id, MailboxType.GOOGLE, 10)
    body = {
        str(domain.id): [
            {
                "firstName": "Jaspreet",
                "lastName": "Singh",
                "mailboxUsername": "jaspreet",
                "domainName": "azhaz.com",
            }
        ]
    }

    response = client.post(f"{API}/v2/mailboxes", json=body, headers=owner.zapmail_headers)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": 200,
        "message": "Mailboxes will be assigned shortly",
        "data": None,
    }
    with db.transaction(write=False) as session:
        made = session.scalars(select(Mailbox)).one()
    assert (made.address, made.first_name, made.mailbox_type) == (
        "jaspreet@azhaz.com",
        "Jaspreet",
        MailboxType.GOOGLE,
    )


def test_assign_spans_many_domains_and_follows_x_service_provider(
    db: Database, client: TestClient
) -> None:
    owner = make_tenant(db)
    give_slots(db, owner.workspace_id, MailboxType.MICROSOFT, 50)
    domains = [make_domain(db, owner.workspace_id) for _ in range(4)]
    body = {
        str(d.id): [
            {"firstName": "A", "lastName": "B", "mailboxUsername": f"u{i}", "domainName": d.name}
            for i in range(2)
        ]
        for d in domains
    }
    headers = {**owner.zapmail_headers, "x-service-provider": "microsoft"}

    response = client.post(f"{API}/v1/mailbox/assign-new", json=body, headers=headers)

    assert response.status_code == 200, response.text
    with db.transaction(write=False) as session:
        kinds = session.scalars(select(Mailbox.mailbox_type)).all()
        orders = session.scalar(select(func.count()).select_from(MailboxOrder))
    assert kinds == [MailboxType.MICROSOFT] * 8
    assert orders == 4


def _assign(client: TestClient, headers: dict[str, str], domain: Any, names: list[str]) -> Any:
    body = {
        str(domain.id): [
            {"firstName": "A", "lastName": "B", "mailboxUsername": n, "domainName": domain.name}
            for n in names
        ]
    }
    return client.post(f"{API}/v2/mailboxes", json=body, headers=headers)


def test_five_per_domain_and_a_refusal_creates_nothing_anywhere(
    db: Database, client: TestClient
) -> None:
    owner = make_tenant(db)
    give_slots(db, owner.workspace_id, MailboxType.GOOGLE, 50)
    fine, full = make_domain(db, owner.workspace_id), make_domain(db, owner.workspace_id)
    body = {
        str(fine.id): [
            {"firstName": "A", "lastName": "B", "mailboxUsername": "ok", "domainName": fine.name}
        ],
        str(full.id): [
            {"firstName": "A", "lastName": "B", "mailboxUsername": f"n{i}", "domainName": full.name}
            for i in range(6)
        ],
    }

    refused = client.post(f"{API}/v2/mailboxes", json=body, headers=owner.zapmail_headers)

    assert refused.status_code == 400, refused.text
    assert refused.json()["code"] == "domain_mailbox_limit"
    assert _count(db, Mailbox) == 0
    assert _count(db, MailboxOrder) == 0
    five = _assign(client, owner.zapmail_headers, full, [f"n{i}" for i in range(5)])
    assert five.status_code == 200, five.text


def test_no_slots_left_is_400(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    give_slots(db, owner.workspace_id, MailboxType.GOOGLE, 1)
    domain = make_domain(db, owner.workspace_id)

    refused = _assign(client, owner.zapmail_headers, domain, ["a", "b"])

    assert refused.status_code == 400, refused.text
    assert refused.json()["code"] == "quota_exceeded"
    assert _count(db, Mailbox) == 0


def test_the_24_hour_rule_is_400(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    give_slots(db, owner.workspace_id, MailboxType.GOOGLE, 10)
    domain = make_domain(db, owner.workspace_id)
    assert _assign(client, owner.zapmail_headers, domain, ["first"]).status_code == 200

    again = _assign(client, owner.zapmail_headers, domain, ["second"])

    assert again.status_code == 400, again.text
    assert again.json()["code"] == "recent_mailbox_creation"
    assert _count(db, Mailbox) == 1


@pytest.mark.parametrize("username", [".lead", "trail-", "two..dots", "a_-b", "spa ce", "ümlaut"])
def test_a_bad_username_is_422_and_creates_nothing(
    db: Database, client: TestClient, username: str
) -> None:
    owner = make_tenant(db)
    give_slots(db, owner.workspace_id, MailboxType.GOOGLE, 10)
    domain = make_domain(db, owner.workspace_id)

    refused = _assign(client, owner.zapmail_headers, domain, [username])

    assert refused.status_code == 422, refused.text
    assert refused.json()["field"]
    assert _count(db, Mailbox) == 0


def test_invalid_payloads_are_422(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    domain = make_domain(db, owner.workspace_id)
    headers = owner.zapmail_headers
    for body in (
        {},
        {str(domain.id): []},
        {"not-a-uuid": [{"firstName": "A", "lastName": "B", "mailboxUsername": "a"}]},
        {
            str(domain.id): [
                {"firstName": 1, "lastName": "B", "mailboxUsername": "a", "domainName": domain.name}
            ]
        },
        {
            str(domain.id): [
                {
                    "firstName": "A",
                    "lastName": "B",
                    "mailboxUsername": "a",
                    "domainName": "other.com",
                }
            ]
        },
    ):
        response = client.post(f"{API}/v2/mailboxes", json=body, headers=headers)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["code"] == "validation_error"


def test_another_workspaces_domain_is_404(db: Database, client: TestClient) -> None:
    owner, stranger = make_tenant(db), make_tenant(db)
    give_slots(db, stranger.workspace_id, MailboxType.GOOGLE, 10)
    domain = make_domain(db, owner.workspace_id)

    refused = _assign(client, stranger.zapmail_headers, domain, ["intruder"])

    assert refused.status_code == 404, refused.text
    assert _count(db, Mailbox) == 0


def test_a_viewer_cannot_assign(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    viewer = make_member(db, owner, Role.VIEWER)
    give_slots(db, owner.workspace_id, MailboxType.GOOGLE, 10)
    domain = make_domain(db, owner.workspace_id)

    refused = _assign(client, viewer.zapmail_headers, domain, ["viewer"])

    assert refused.status_code == 403
    assert refused.json()["code"] == "insufficient_role"


def test_list_groups_by_domain_with_the_documented_fields(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    give_slots(db, owner.workspace_id, MailboxType.GOOGLE, 500)
    first = make_domain(db, owner.workspace_id, name="example1.com")
    second = make_domain(db, owner.workspace_id, name="example2.com")
    make_domain(db, owner.workspace_id, name="empty.com")
    with_login = make_mailbox(db, first)
    _with_logins(db, client, with_login)
    make_mailbox(db, first, status=MailboxStatus.PROVISIONING)
    make_mailbox(db, second)

    response = client.get(f"{API}/v2/mailboxes/list?page=1&limit=1", headers=owner.zapmail_headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["message"] == "Mailboxes fetched successfully"
    data = body["data"]
    assert list(data) == [
        "totalSearchedCount",
        "currentPage",
        "nextPage",
        "totalPages",
        "purchasedMailboxes",
        "totalAssignedMailboxes",
        "totalActiveMailboxes",
        "availableMailboxes",
        "domains",
    ]
    assert (data["totalSearchedCount"], data["currentPage"], data["nextPage"]) == (2, 1, 2)
    assert data["totalPages"] == 2
    assert (data["purchasedMailboxes"], data["totalAssignedMailboxes"]) == (500, 3)
    assert (data["totalActiveMailboxes"], data["availableMailboxes"]) == (2, 497)
    [domain] = data["domains"]
    assert list(domain) == ["id", "domain", "status", "mailboxes"]
    assert (domain["domain"], domain["status"]) == ("example1.com", "ACTIVE")
    boxes = {m["id"]: m for m in domain["mailboxes"]}
    listed = boxes[str(with_login)]
    assert list(listed) == [
        "id",
        "username",
        "firstName",
        "lastName",
        "status",
        "profilePicture",
        "domain",
        "appPassword",
        "domainId",
        "assignedOn",
        "expireOn",
        "serviceProvider",
    ]
    assert listed["appPassword"] == "nfd2 jk43 4jas hfdj"
    assert listed["status"] == "ACTIVE"
    assert ISO_MS.match(listed["assignedOn"])
    assert ISO_MS.match(listed["expireOn"])
    assert sorted(m["status"] for m in boxes.values()) == ["ACTIVE", "IN_PROGRESS"]
    second_page = client.get(
        f"{API}/v1/mailbox/list?page=2&limit=1", headers=owner.zapmail_headers
    ).json()["data"]
    assert [d["domain"] for d in second_page["domains"]] == ["example2.com"]
    searched = client.get(
        f"{API}/v2/mailboxes/list?contains=example2", headers=owner.zapmail_headers
    ).json()["data"]
    assert [d["domain"] for d in searched["domains"]] == ["example2.com"]


def test_a_viewer_lists_without_passwords(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    viewer = make_member(db, owner, Role.VIEWER)
    mailbox = make_mailbox(db, make_domain(db, owner.workspace_id))
    _with_logins(db, client, mailbox)

    data = client.get(f"{API}/v2/mailboxes/list", headers=viewer.zapmail_headers).json()["data"]

    assert data["domains"][0]["mailboxes"][0]["appPassword"] is None


def test_get_by_id_v2_has_the_secrets_and_v1_does_not(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    domain = make_domain(db, owner.workspace_id, name="example1.com")
    mailbox = make_mailbox(db, domain)
    _with_logins(db, client, mailbox)

    v2 = client.get(f"{API}/v2/mailboxes?id={mailbox}", headers=owner.zapmail_headers)
    v1 = client.get(f"{API}/v1/mailbox/details?id={mailbox}", headers=owner.zapmail_headers)

    assert v2.status_code == 200, v2.text
    assert v2.headers["cache-control"] == "no-store"
    shown = v2.json()["data"]["mailbox"]
    assert list(shown)[:13] == [
        "id",
        "username",
        "firstName",
        "lastName",
        "status",
        "profilePicture",
        "domain",
        "domainId",
        "assignedOn",
        "expireOn",
        "createdAt",
        "appPassword",
        "secret",
    ]
    assert (shown["appPassword"], shown["secret"]) == ("nfd2 jk43 4jas hfdj", TOTP)
    assert shown["domain"] == "example1.com"
    old = v1.json()["data"]["mailbox"]
    assert "appPassword" not in old
    assert "secret" not in old
    assert old["id"] == str(mailbox)


def test_get_another_workspaces_mailbox_is_404(db: Database, client: TestClient) -> None:
    owner, stranger = make_tenant(db), make_tenant(db)
    mailbox = make_mailbox(db, make_domain(db, owner.workspace_id))

    response = client.get(f"{API}/v2/mailboxes?id={mailbox}", headers=stranger.zapmail_headers)

    assert response.status_code == 404
    assert response.json()["code"] == "mailbox_not_found"


def test_scheduled_removal_answers_without_status_and_empty_means_all(
    db: Database, client: TestClient
) -> None:
    owner = make_tenant(db)
    domain = make_domain(db, owner.workspace_id)
    ids = [make_mailbox(db, domain) for _ in range(3)]
    url = f"{API}/v2/mailboxes/scheduled-removal"

    one = client.put(
        url, json={"mailboxIds": [str(ids[0])], "remove": True}, headers=owner.zapmail_headers
    )
    assert one.status_code == 200, one.text
    assert one.json() == {"message": "Mailbox will be removed on next renewal", "data": None}
    every = client.put(url, json={"mailboxIds": [], "remove": True}, headers=owner.zapmail_headers)
    assert every.status_code == 200, every.text
    with db.transaction(write=False) as session:
        statuses = set(session.scalars(select(Mailbox.status)))
    assert statuses == {MailboxStatus.REMOVAL_SCHEDULED}
    undo = client.put(
        f"{API}/v1/mailbox/remove-mailboxes-on-next-renewal",
        json={"mailboxIds": [], "remove": False},
        headers=owner.zapmail_headers,
    )
    assert undo.status_code == 200, undo.text
    with db.transaction(write=False) as session:
        assert set(session.scalars(select(Mailbox.status))) == {MailboxStatus.ACTIVE}


def test_an_unknown_id_refuses_the_whole_removal(db: Database, client: TestClient) -> None:
    owner, stranger = make_tenant(db), make_tenant(db)
    mine = make_mailbox(db, make_domain(db, owner.workspace_id))
    theirs = make_mailbox(db, make_domain(db, stranger.workspace_id))

    refused = client.put(
        f"{API}/v2/mailboxes/scheduled-removal",
        json={"mailboxIds": [str(mine), str(theirs)], "remove": True},
        headers=owner.zapmail_headers,
    )

    assert refused.status_code == 404, refused.text
    with db.transaction(write=False) as session:
        assert set(session.scalars(select(Mailbox.status))) == {MailboxStatus.ACTIVE}


def test_remove_instantly_counts_what_it_queued(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    domain = make_domain(db, owner.workspace_id)
    ids = [make_mailbox(db, domain) for _ in range(2)]

    response = client.post(
        f"{API}/v2/mailboxes/remove-mailboxes-instantly",
        json={"mailboxIds": [str(i) for i in ids], "remove": True},
        headers=owner.zapmail_headers,
    )

    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": 200,
        "message": "Mailbox will be removed shortly",
        "data": {"totalMailboxesQueued": 2},
    }
    with db.transaction(write=False) as session:
        assert set(session.scalars(select(Mailbox.status))) == {MailboxStatus.REMOVED}


def test_authenticator_code_is_the_totp_of_the_stored_secret(
    db: Database, client: TestClient
) -> None:
    owner = make_tenant(db)
    mailbox = make_mailbox(db, make_domain(db, owner.workspace_id))
    _with_logins(db, client, mailbox)

    response = client.get(
        f"{API}/v2/mailboxes/authenticator-code?mailboxId={mailbox}",
        headers=owner.zapmail_headers,
    )

    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert list(data) == ["code", "expiresIn"]
    assert re.fullmatch(r"\d{6}", data["code"])
    assert 1 <= data["expiresIn"] <= 30
    expected = {authenticator_code(TOTP, clock.now()).code}
    # The code may have just turned over between the request and this line.
    expected.add(authenticator_code(TOTP, clock.now() - timedelta(seconds=30)).code)
    assert data["code"] in expected


def test_retry_failed_puts_failed_mailboxes_back(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    give_slots(db, owner.workspace_id, MailboxType.GOOGLE, 10)
    domain = make_domain(db, owner.workspace_id, mailbox_type=MailboxType.GOOGLE)
    failed = make_mailbox(db, domain, status=MailboxStatus.FAILED)

    response = client.put(
        f"{API}/v2/mailboxes/retry-failed",
        json={"domainIds": [str(domain.id)]},
        headers={**owner.zapmail_headers, "x-service-provider": "GOOGLE"},
    )

    assert response.status_code == 200, response.text
    with db.transaction(write=False) as session:
        status = session.scalar(select(Mailbox.status).where(Mailbox.id == failed))
    assert status != MailboxStatus.FAILED


def test_an_inactive_domain_is_refused(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    give_slots(db, owner.workspace_id, MailboxType.GOOGLE, 10)
    domain = make_domain(db, owner.workspace_id, status=DomainStatus.PENDING_NS)

    refused = _assign(client, owner.zapmail_headers, domain, ["early"])

    assert refused.status_code == 400
    assert refused.json()["code"] == "domain_not_active"
