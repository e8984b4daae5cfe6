from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from mailfleet.db import Database
from mailfleet.models import Domain, DomainStatus, Event, MailboxType, Role
from tests.factories import make_domain, make_member, make_tenant


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
