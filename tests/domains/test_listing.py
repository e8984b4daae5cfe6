from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.kit import clock
from mailfleet.models import Domain, DomainStatus, MailboxType
from tests.factories import Caller, make_domain, make_tenant


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


# Submitted in this order, in two batches: neither alphabetical nor its reverse, with names that
# byte order and a locale's order put differently (hyphen and dot before letters).
FIRST_BATCH = ["mango.com", "a-b.com", "zeta.test", "ab.com", "a.com"]
SECOND_BATCH = ["kiwi.com", "b.com", "a-c.com", "apple.test"]


def walk(client: TestClient, caller: Caller, limit: int, **params: str) -> list[str]:
    """Every name the list gives, page after page until next_cursor is null."""
    seen: list[str] = []
    cursor: str | None = None
    while True:
        query: dict[str, str | int] = {"limit": limit, **params}
        if cursor:
            query["cursor"] = cursor
        response = client.get("/v1/domains", params=query, headers=caller.headers)
        assert response.status_code == 200, response.text
        seen.extend(d["name"] for d in response.json()["items"])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return seen


def submit_in_order(client: TestClient, owner: Caller) -> list[str]:
    for batch in (FIRST_BATCH, SECOND_BATCH):
        response = client.post("/v1/domains", json={"domains": batch}, headers=owner.headers)
        assert response.status_code == 201, response.text
        clock.advance(1)
    return FIRST_BATCH + SECOND_BATCH


@pytest.mark.parametrize("limit", [1, 2, 4, 50])
def test_every_sort_walks_each_domain_once_in_its_order(
    db: Database, client: TestClient, limit: int
) -> None:
    owner = make_tenant(db)
    submitted = submit_in_order(client, owner)
    by_name = sorted(submitted, key=lambda n: n.encode())
    assert walk(client, owner, limit, sort="name") == by_name
    assert walk(client, owner, limit, sort="-name") == by_name[::-1]
    assert walk(client, owner, limit, sort="created_at") == submitted
    assert walk(client, owner, limit, sort="-created_at") == submitted[::-1]
    # Without sort: newest first, as before.
    assert walk(client, owner, limit) == submitted[::-1]


def test_equal_creation_times_page_by_id_without_gaps(db: Database, client: TestClient) -> None:
    # One batch shares one created_at: the id decides, so a page boundary inside it loses nothing.
    owner = make_tenant(db)
    names = [f"same-time{i:03d}.com" for i in range(25)]
    client.post("/v1/domains", json={"domains": names}, headers=owner.headers)
    assert walk(client, owner, 4, sort="created_at") == names
    assert walk(client, owner, 4, sort="-created_at") == names[::-1]


def test_a_sorted_walk_keeps_the_filters(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    submit_in_order(client, owner)
    assert walk(client, owner, 2, sort="name", q="a-") == ["a-b.com", "a-c.com"]
    assert walk(client, owner, 1, sort="-created_at", q=".test") == ["apple.test", "zeta.test"]


def test_rows_added_during_a_sorted_walk_do_not_shift_it(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    client.post("/v1/domains", json={"domains": ["b1.com", "d1.com"]}, headers=owner.headers)
    first = client.get(
        "/v1/domains", params={"sort": "name", "limit": 1}, headers=owner.headers
    ).json()
    assert [d["name"] for d in first["items"]] == ["b1.com"]
    client.post("/v1/domains", json={"domains": ["a1.com", "c1.com"]}, headers=owner.headers)
    rest = client.get(
        "/v1/domains",
        params={"sort": "name", "limit": 10, "cursor": first["next_cursor"]},
        headers=owner.headers,
    ).json()
    # After b1 in name order: c1 (new, after the cursor) and d1; a1 sorts before the cursor.
    assert [d["name"] for d in rest["items"]] == ["c1.com", "d1.com"]


def test_a_cursor_continues_only_the_sort_it_was_issued_for(
    db: Database, client: TestClient
) -> None:
    owner = make_tenant(db)
    submit_in_order(client, owner)
    by_name = client.get(
        "/v1/domains", params={"sort": "name", "limit": 2}, headers=owner.headers
    ).json()["next_cursor"]
    newest = client.get("/v1/domains", params={"limit": 2}, headers=owner.headers).json()
    for params in (
        {"sort": "-name", "cursor": by_name},
        {"sort": "created_at", "cursor": by_name},
        {"sort": "name", "cursor": newest["next_cursor"]},
        {"sort": "name", "cursor": "!!"},
    ):
        response = client.get("/v1/domains", params=params, headers=owner.headers)
        assert response.status_code == 400, params
        assert response.json()["code"] == "invalid_cursor"
        assert response.json()["field"] == "cursor"


def test_an_unknown_sort_is_refused(db: Database, client: TestClient) -> None:
    owner = make_tenant(db)
    response = client.get("/v1/domains", params={"sort": "status"}, headers=owner.headers)
    assert response.status_code == 422
    assert response.json()["field"] == "sort"


def test_pages_of_different_sorts_are_not_served_for_each_other(
    db: Database, client: TestClient
) -> None:
    # The page cache keeps rendered pages; the sort is part of what names a page.
    owner = make_tenant(db)
    submit_in_order(client, owner)
    for _ in range(2):
        pages = {
            sort: [
                d["name"]
                for d in client.get(
                    "/v1/domains", params={"sort": sort, "limit": 3}, headers=owner.headers
                ).json()["items"]
            ]
            for sort in ("name", "-name", "created_at", "-created_at")
        }
        assert pages == {
            "name": ["a-b.com", "a-c.com", "a.com"],
            "-name": ["zeta.test", "mango.com", "kiwi.com"],
            "created_at": ["mango.com", "a-b.com", "zeta.test"],
            "-created_at": ["apple.test", "a-c.com", "b.com"],
        }
