from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import func, select

from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.models import Domain, DomainStatus, Event, MailboxStatus, MailboxType, Role
from tests.factories import give_slots, make_domain, make_member, make_tenant


def _domain_count(db: Database) -> int:
    with db.transaction(write=False) as session:
        return int(session.scalar(select(func.count()).select_from(Domain)) or 0)


def test_ten_thousand_domains_are_accepted_in_one_request(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    names = [f"bulk{i}.com" for i in range(10_000)]
    response = client.post("/v1/domains", json={"domains": names}, headers=owner.headers)
    assert response.status_code == 201
    assert len(response.json()["accepted"]) == 10_000
    assert _domain_count(db) == 10_000


def test_ten_thousand_and_one_domains_are_refused_whole(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    names = [f"bulk{i}.com" for i in range(10_001)]
    response = client.post("/v1/domains", json={"domains": names}, headers=owner.headers)
    assert response.status_code == 422
    assert response.json()["code"] == "too_many_domains"
    assert response.json()["field"] == "domains"
    assert _domain_count(db) == 0


def test_the_documents_give_the_batch_bound_the_code_enforces(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    schema = document["components"]["schemas"]["DomainSubmit"]["properties"]["domains"]
    limit = Settings().max_domains_per_batch
    assert limit == 10_000
    assert schema["maxItems"] == limit
    assert "10,000" in schema["description"]
    operation = document["paths"]["/v1/domains"]["post"]
    assert "up to 10,000" in operation["description"]


def test_the_batch_bound_can_be_lowered_not_raised() -> None:
    assert Settings(max_domains_per_batch=500).max_domains_per_batch == 500
    with pytest.raises(ValidationError):
        Settings(max_domains_per_batch=10_001)


def test_a_lowered_bound_refuses_longer_batches_with_the_number(
    db: Database, make_client: Callable[..., TestClient]
) -> None:
    client = make_client(max_domains_per_batch=2)
    owner = make_tenant(db)
    names = ["one.com", "two.com", "three.com"]
    response = client.post("/v1/domains", json={"domains": names}, headers=owner.headers)
    assert response.status_code == 422
    assert response.json()["code"] == "too_many_domains"
    assert "at most 2 domains; got 3" in response.json()["detail"]
    assert _domain_count(db) == 0


def test_an_unknown_tld_is_refused_with_the_name_and_why(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    response = client.post(
        "/v1/domains", json={"domains": ["probe-x.notarealtld"]}, headers=owner.headers
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "no_domain_accepted"
    [error] = body["errors"]
    assert (error["field"], error["code"]) == ("domains[0]", "unknown_tld")
    assert "probe-x.notarealtld" in error["detail"]
    assert "public suffix list" in error["detail"]
    mixed = client.post(
        "/v1/domains",
        json={"domains": ["fine-name.com", "probe-y.notarealtld"]},
        headers=owner.headers,
    )
    assert mixed.status_code == 201, mixed.text
    [rejected] = mixed.json()["rejected"]
    assert (rejected["index"], rejected["name"], rejected["code"]) == (
        1,
        "probe-y.notarealtld",
        "unknown_tld",
    )
    assert "public suffix list" in rejected["detail"]
    assert [d["name"] for d in mixed.json()["accepted"]] == ["fine-name.com"]


def test_local_tlds_are_accepted_only_when_configured(
    db: Database, make_client: Callable[..., TestClient]
) -> None:
    owner = make_tenant(db)
    # The suite's settings list `test` (tests/conftest.py); the default lists none.
    strict = make_client(local_tlds=[])
    refused = strict.post("/v1/domains", json={"domains": ["acme.test"]}, headers=owner.headers)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["code"] == "unknown_tld"
    local = make_client()
    accepted = local.post("/v1/domains", json={"domains": ["acme.test"]}, headers=owner.headers)
    assert accepted.status_code == 201, accepted.text
    assert [d["name"] for d in accepted.json()["accepted"]] == ["acme.test"]


def test_a_domain_under_a_local_tld_is_found_by_name_when_ordering(
    db: Database, make_client: Callable[..., TestClient]
) -> None:
    client = make_client(recent_creation_rule="off")
    owner = make_tenant(db)
    make_domain(db, owner.workspace_id, name="orders-by-name.test", mailbox_type=MailboxType.GOOGLE)
    give_slots(db, owner.workspace_id, MailboxType.GOOGLE, 1)
    body = {
        "domain": "Orders-By-Name.TEST",
        "type": "GOOGLE",
        "mailboxes": [{"first_name": "Ada", "last_name": "Stone", "username": "ada"}],
    }
    response = client.post("/v1/mailbox-orders", json=body, headers=owner.headers)
    assert response.status_code == 201, response.text
    assert response.json()["domain"] == "orders-by-name.test"
    assert [m["status"] for m in response.json()["mailboxes"]] == [MailboxStatus.PENDING.value]


def test_empty_list_is_refused(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    response = client.post("/v1/domains", json={"domains": []}, headers=owner.headers)
    assert response.status_code == 422
    assert response.json()["field"] == "domains"


def test_malformed_json_is_a_400(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    response = client.post(
        "/v1/domains",
        content=b'{"domains": [',
        headers={**owner.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_json"


def test_wrong_types_name_the_field(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    response = client.post("/v1/domains", json={"domains": "a.com"}, headers=owner.headers)
    assert response.status_code == 422
    assert response.json()["field"] == "domains"
    response = client.post("/v1/domains", json={"domains": ["a.com", 7]}, headers=owner.headers)
    assert response.json()["field"] == "domains[1]"
    response = client.post(
        "/v1/domains", json={"domains": ["a.com"], "extra": 1}, headers=owner.headers
    )
    assert response.status_code == 422
    assert response.json()["field"] == "extra"
    assert _domain_count(db) == 0


def test_all_rejected_batch_creates_nothing(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    response = client.post(
        "/v1/domains", json={"domains": ["bad name", "co.uk"]}, headers=owner.headers
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "no_domain_accepted"
    assert [e["field"] for e in body["errors"]] == ["domains[0]", "domains[1]"]
    assert _domain_count(db) == 0


def test_unicode_and_punycode_forms_are_the_same_domain(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    response = client.post(
        "/v1/domains", json={"domains": ["Bücher.com", "xn--bcher-kva.com"]}, headers=owner.headers
    )
    body = response.json()
    assert [d["name"] for d in body["accepted"]] == ["xn--bcher-kva.com"]
    assert body["rejected"][0]["code"] == "duplicate_in_batch"


def test_resubmitting_own_domain_says_so(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    client.post("/v1/domains", json={"domains": ["mine.com"]}, headers=owner.headers)
    response = client.post(
        "/v1/domains", json={"domains": ["mine.com", "new.com"]}, headers=owner.headers
    )
    assert response.json()["rejected"][0]["code"] == "already_in_workspace"


def test_mailbox_type_can_be_fixed_at_submission(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    client.post(
        "/v1/domains",
        json={"domains": ["typed.com"], "mailbox_type": "SMTP"},
        headers=owner.headers,
    )
    listed = client.get("/v1/domains", headers=owner.headers).json()["items"]
    assert listed[0]["mailbox_type"] == MailboxType.SMTP


def test_viewer_cannot_submit(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    viewer = make_member(db, owner, Role.VIEWER)
    response = client.post("/v1/domains", json={"domains": ["v.com"]}, headers=viewer.headers)
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_role"
    assert client.get("/v1/domains", headers=viewer.headers).status_code == 200
    assert _domain_count(db) == 0


def test_remove_frees_the_name_and_is_recorded(db: Database, client: TestClient) -> None:
    first, second = make_tenant(db), make_tenant(db)
    domain = make_domain(db, first.workspace_id, name="free-me.com", status=DomainStatus.ACTIVE)
    response = client.delete(f"/v1/domains/{domain.id}", headers=first.headers)
    assert response.status_code == 200
    assert response.json()["status"] == "REMOVED"
    again = client.post("/v1/domains", json={"domains": ["free-me.com"]}, headers=second.headers)
    assert len(again.json()["accepted"]) == 1
    with db.transaction(write=False) as session:
        types = session.scalars(select(Event.type).where(Event.subject_id == domain.id)).all()
    assert types == ["domain.status_changed"]


def test_get_unknown_domain_is_404(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    response = client.get("/v1/domains/00000000-0000-7000-8000-000000000000", headers=owner.headers)
    assert response.status_code == 404
    assert response.json()["code"] == "domain_not_found"
    response = client.get("/v1/domains/not-a-uuid", headers=owner.headers)
    assert response.status_code == 422
    assert response.json()["field"] == "domain_id"


def test_domain_with_live_mailboxes_cannot_be_removed(db: Database, client: TestClient) -> None:
    from datetime import timedelta

    from mailfleet.kit import clock
    from mailfleet.models import Mailbox, MailboxStatus

    owner = make_tenant(db)
    domain = make_domain(db, owner.workspace_id, status=DomainStatus.ACTIVE)
    with db.transaction() as session:
        session.add(
            Mailbox(
                workspace_id=owner.workspace_id,
                domain_id=domain.id,
                username="a",
                address=f"a@{domain.name}",
                first_name="A",
                last_name="B",
                mailbox_type=MailboxType.SMTP,
                backend="manual",
                status=MailboxStatus.ACTIVE,
                expires_at=clock.now() + timedelta(days=30),
            )
        )
    response = client.delete(f"/v1/domains/{domain.id}", headers=owner.headers)
    assert response.status_code == 409
    assert response.json()["code"] == "domain_has_mailboxes"
    assert (
        client.get(f"/v1/domains/{domain.id}", headers=owner.headers).json()["status"] == "ACTIVE"
    )
