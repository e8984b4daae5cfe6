from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.models import Domain, DomainStatus, MailboxType
from tests.factories import make_domain, make_tenant


def test_pagination_walks_thousands_without_gaps_or_repeats(
    db: Database, client: TestClient
) -> None:
    owner = make_tenant(db)
    names = [f"page{i:05d}.com" for i in range(2500)]
    assert (
        client.post("/v1/domains", json={"domains": names}, headers=owner.headers).status_code
        == 201
    )
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 500}
        if cursor:
            params["cursor"] = cursor
        body = client.get("/v1/domains", params=params, headers=owner.headers).json()
        seen.extend(d["name"] for d in body["items"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 5
    assert len(seen) == len(set(seen)) == 2500
    assert set(seen) == set(names)


def test_pagination_is_stable_while_rows_are_added(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    client.post(
        "/v1/domains", json={"domains": [f"s{i}.com" for i in range(10)]}, headers=owner.headers
    )
    first = client.get("/v1/domains", params={"limit": 5}, headers=owner.headers).json()
    client.post("/v1/domains", json={"domains": ["late.com"]}, headers=owner.headers)
    second = client.get(
        "/v1/domains", params={"limit": 5, "cursor": first["next_cursor"]}, headers=owner.headers
    ).json()
    names = [d["name"] for d in first["items"] + second["items"]]
    assert len(set(names)) == 10
    assert "late.com" not in names


def test_filters_by_status_type_and_text(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    make_domain(
        db,
        owner.workspace_id,
        name="alpha-mail.com",
        status=DomainStatus.ACTIVE,
        mailbox_type=MailboxType.GOOGLE,
    )
    make_domain(db, owner.workspace_id, name="beta.com", status=DomainStatus.FAILED)
    make_domain(db, owner.workspace_id, name="gamma_x.com", status=DomainStatus.REMOVED)

    def names(**params: object) -> list[str]:
        response = client.get("/v1/domains", params=params, headers=owner.headers)
        assert response.status_code == 200, response.text
        return sorted(d["name"] for d in response.json()["items"])

    assert names() == ["alpha-mail.com", "beta.com"]
    assert names(status="FAILED") == ["beta.com"]
    assert names(status=["REMOVED", "ACTIVE"]) == ["alpha-mail.com", "gamma_x.com"]
    assert names(type="GOOGLE") == ["alpha-mail.com"]
    assert names(q="MAIL") == ["alpha-mail.com"]
    assert names(q="%") == []


def test_bad_cursor_and_limit_are_clear_errors(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    response = client.get("/v1/domains", params={"cursor": "!!"}, headers=owner.headers)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_cursor"
    response = client.get("/v1/domains", params={"limit": 0}, headers=owner.headers)
    assert response.status_code == 422
    assert response.json()["field"] == "limit"


def test_batch_status_groups_by_nameserver_pair(
    db: Database, make_client: Callable[..., TestClient]
) -> None:
    client = make_client(
        nameserver_pairs=[("ns1.a.test", "ns2.a.test"), ("ns1.b.test", "ns2.b.test")]
    )
    owner = make_tenant(db)
    names = [f"grp{i}.com" for i in range(40)]
    submitted = client.post(
        "/v1/domains", json={"domains": names + ["bad name"]}, headers=owner.headers
    ).json()
    report = client.get(f"/v1/domain-batches/{submitted['batch_id']}", headers=owner.headers)
    assert report.status_code == 200
    body = report.json()
    assert (body["submitted_count"], body["accepted_count"], body["rejected_count"]) == (41, 40, 1)
    assert body["counts"]["QUEUED"] == 40
    assert body["status"] == "PENDING"
    groups = {tuple(g["nameservers"]): set(g["domains"]) for g in body["nameserver_groups"]}
    assert set(groups) == {("ns1.a.test", "ns2.a.test"), ("ns1.b.test", "ns2.b.test")}
    assert set().union(*groups.values()) == set(names)
    by_name = {d["name"]: tuple(d["nameservers"]) for d in submitted["accepted"]}
    assert all(name in groups[pair] for name, pair in by_name.items())


def test_the_list_shows_every_change_at_once(db: Database, client: TestClient) -> None:
    # Pages are kept between requests (kit.pagecache): a delegation check that activates a
    # domain in a job, or a removal through the API, shows on the very next poll.
    owner = make_tenant(db)
    waiting = make_domain(db, owner.workspace_id, status=DomainStatus.PENDING_NS)
    other = make_domain(db, owner.workspace_id)

    def statuses() -> dict[str, str]:
        items = client.get("/v1/domains", headers=owner.headers).json()["items"]
        return {item["name"]: item["status"] for item in items}

    assert statuses() == {waiting.name: "PENDING_NS", other.name: "ACTIVE"}
    assert statuses() == {waiting.name: "PENDING_NS", other.name: "ACTIVE"}
    with db.transaction() as session:
        session.get_one(Domain, waiting.id).status = DomainStatus.ACTIVE
    assert statuses() == {waiting.name: "ACTIVE", other.name: "ACTIVE"}
    removed = client.delete(f"/v1/domains/{other.id}", headers=owner.headers)
    assert removed.status_code == 200, removed.text
    assert statuses() == {waiting.name: "ACTIVE"}
