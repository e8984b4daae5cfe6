"""Zapmail exports against /zapmail/api: export mailboxes (one job per app, run by the worker
against the local Instantly and Smartlead fakes), the export status by integer id in
snake_case, the MANUAL CSV link, and the refusals (R9, R11, unknown apps) changing nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.jobs.queue import Runtime
from mailfleet.models import Role
from tests.exports.conftest import ready_mailboxes, without_lemlist_client  # noqa: F401
from tests.factories import Caller, make_member, make_tenant
from tests.fakes.sequencers.instantly import InstantlyFake
from tests.fakes.sequencers.smartlead import SmartleadFake

API = "/zapmail/api"
STARTED = "Mailboxes export is started. It may take sometime to export"
RunJob = Callable[[str], None]


@pytest.fixture
def instantly() -> Iterator[InstantlyFake]:
    with InstantlyFake() as fake:
        yield fake


@pytest.fixture
def smartlead() -> Iterator[SmartleadFake]:
    with SmartleadFake() as fake:
        yield fake


@pytest.fixture
def fake_settings(instantly: InstantlyFake, smartlead: SmartleadFake) -> dict[str, Any]:
    return {
        "export_instantly_base_url": instantly.base_url,
        "export_smartlead_base_url": smartlead.base_url,
        "export_backoff_seconds": [0.0],
        "export_timeout": 10.0,
    }


@pytest.fixture
def api(make_client: Callable[..., TestClient], fake_settings: dict[str, Any]) -> TestClient:
    return make_client(**fake_settings)


@pytest.fixture
def run_job(
    db: Database, make_settings: Callable[..., Settings], fake_settings: dict[str, Any]
) -> RunJob:
    runtime = Runtime(make_settings(**fake_settings), db)
    return lambda export_id: runtime.run_now("exports.run", export_id)


@pytest.fixture
def owner(db: Database) -> Caller:
    return make_tenant(db)


def add_account(api: TestClient, caller: Caller, app: str = "INSTANTLY", **body: Any) -> None:
    payload = {"email": "ops@acme.test", "password": "good-key", "app": app, **body}
    response = api.post(
        f"{API}/v2/exports/accounts/third-party", json=payload, headers=caller.zapmail_headers
    )
    assert response.status_code == 200, response.text


def native_jobs(api: TestClient, caller: Caller) -> list[dict[str, Any]]:
    response = api.get("/v1/exports", headers=caller.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def export(
    api: TestClient, caller: Caller, path: str = "/v2/exports/mailboxes", **body: Any
) -> Any:
    return api.post(f"{API}{path}", json=body, headers=caller.zapmail_headers)


def status(api: TestClient, caller: Caller, export_id: object) -> Any:
    return api.get(
        f"{API}/v2/exports/status", params={"exportId": export_id}, headers=caller.zapmail_headers
    )


def test_the_documented_example_starts_an_export_the_worker_runs_and_the_status_follows(
    api: TestClient, db: Database, owner: Caller, instantly: InstantlyFake, run_job: RunJob
) -> None:
    add_account(api, owner)
    ids = ready_mailboxes(db, owner.workspace_id, 3)

    response = export(
        api,
        owner,
        apps=["INSTANTLY"],
        ids=[str(i) for i in ids],
        excludeIds=[],
        tagIds=[],
        status="",
        contains="",
    )

    assert response.status_code == 200, response.text
    assert response.json() == {"status": 200, "message": STARTED, "data": None}
    assert list(response.json()) == ["status", "message", "data"]
    assert response.headers["X-Export-Ids"] == "1"
    pending = status(api, owner, 1)
    assert pending.status_code == 200, pending.text
    body = pending.json()
    assert body["message"] == "Export status fetched successfully"
    assert list(body["data"]) == ["export_id", "status", "failure_reason"]
    assert body["data"] == {"export_id": 1, "status": "PENDING", "failure_reason": None}

    [job] = native_jobs(api, owner)
    run_job(job["id"])

    done = status(api, owner, 1).json()["data"]
    assert done == {"export_id": 1, "status": "COMPLETED", "failure_reason": None}
    assert len(instantly.accounts) == 3
    # Zapmail's exports arrive with warm-up off.
    assert {a["warmup_status"] for a in instantly.accounts.values()} == {0}


def test_the_v1_path_is_the_same_export_and_ids_count_per_workspace(
    api: TestClient, db: Database, owner: Caller
) -> None:
    add_account(api, owner)
    ids = [str(i) for i in ready_mailboxes(db, owner.workspace_id, 2)]
    first = export(api, owner, apps=["instantly"], ids=ids[:1])
    second = export(api, owner, "/v1/exports/export-mailboxes", apps=["INSTANTLY"], ids=ids[1:])
    other = make_tenant(db)
    add_account(api, other)
    theirs = export(
        api, other, apps=["INSTANTLY"], ids=[str(ready_mailboxes(db, other.workspace_id, 1)[0])]
    )

    assert second.status_code == 200, second.text
    assert second.json() == first.json() == {"status": 200, "message": STARTED, "data": None}
    assert (first.headers["X-Export-Ids"], second.headers["X-Export-Ids"]) == ("1", "2")
    assert theirs.headers["X-Export-Ids"] == "1"
    assert status(api, owner, 2).json()["data"]["export_id"] == 2
    # Another workspace's export 1 is theirs; this workspace has no export 3.
    assert status(api, other, 2).status_code == 404
    missing = status(api, owner, 3)
    assert missing.status_code == 404
    assert missing.json()["code"] == "export_not_found"
    assert missing.json()["data"] is None


@pytest.mark.parametrize("bad", ["abc", "0", "-1", "1.5", ""])
def test_an_export_id_that_is_not_a_positive_integer_is_422(
    api: TestClient, owner: Caller, bad: str
) -> None:
    response = status(api, owner, bad)

    assert response.status_code == 422, response.text
    assert response.json()["status"] == 422


def test_several_accounts_for_the_app_need_third_party_account_id(
    api: TestClient, db: Database, owner: Caller, smartlead: SmartleadFake, run_job: RunJob
) -> None:
    add_account(api, owner, "SMARTLEAD", email="a@acme.test")
    add_account(api, owner, "SMARTLEAD", email="b@acme.test")
    ids = [str(i) for i in ready_mailboxes(db, owner.workspace_id, 2)]

    refused = export(api, owner, apps=["SMARTLEAD"], ids=ids)

    assert refused.status_code == 400, refused.text
    assert refused.json()["code"] == "export_account_required"
    assert refused.json()["field"] == "thirdPartyAccountId"
    assert native_jobs(api, owner) == []
    listed = api.get(
        f"{API}/v2/exports/accounts/third-party?app=SMARTLEAD", headers=owner.zapmail_headers
    ).json()["data"]["accounts"]
    chosen = next(a for a in listed if a["email"] == "b@acme.test")

    accepted = export(api, owner, apps=["SMARTLEAD"], ids=ids, thirdPartyAccountId=chosen["id"])

    assert accepted.status_code == 200, accepted.text
    [job] = native_jobs(api, owner)
    assert job["account_id"] == chosen["id"]
    run_job(job["id"])
    assert status(api, owner, 1).json()["data"]["status"] == "COMPLETED"


def test_no_account_for_the_app_is_400_and_nothing_is_started(
    api: TestClient, db: Database, owner: Caller
) -> None:
    ids = [str(i) for i in ready_mailboxes(db, owner.workspace_id, 1)]

    response = export(api, owner, apps=["INSTANTLY"], ids=ids)

    assert response.status_code == 400, response.text
    assert response.json()["code"] == "export_account_required"
    assert native_jobs(api, owner) == []


def test_an_account_of_another_app_or_workspace_is_refused(
    api: TestClient, db: Database, owner: Caller
) -> None:
    add_account(api, owner)
    other = make_tenant(db)
    add_account(api, other)
    theirs = api.get(
        f"{API}/v2/exports/accounts/third-party?app=INSTANTLY", headers=other.zapmail_headers
    ).json()["data"]["accounts"][0]["id"]
    mine = api.get(
        f"{API}/v2/exports/accounts/third-party?app=INSTANTLY", headers=owner.zapmail_headers
    ).json()["data"]["accounts"][0]["id"]
    ids = [str(i) for i in ready_mailboxes(db, owner.workspace_id, 1)]

    foreign = export(api, owner, apps=["INSTANTLY"], ids=ids, thirdPartyAccountId=theirs)
    wrong_app = export(api, owner, apps=["SMARTLEAD"], ids=ids, thirdPartyAccountId=mine)

    assert foreign.status_code == 404, foreign.text
    assert wrong_app.status_code == 422, wrong_app.text
    assert wrong_app.json()["field"] == "thirdPartyAccountId"
    assert native_jobs(api, owner) == []


def test_the_re_export_limit_is_three_a_week_then_429(
    api: TestClient, db: Database, owner: Caller
) -> None:
    add_account(api, owner)
    ids = [str(i) for i in ready_mailboxes(db, owner.workspace_id, 1)]
    for expected in ("1", "2", "3"):
        accepted = export(api, owner, apps=["INSTANTLY"], ids=ids)
        assert accepted.headers["X-Export-Ids"] == expected

    refused = export(api, owner, apps=["INSTANTLY"], ids=ids)

    assert refused.status_code == 429, refused.text
    body = refused.json()
    assert (body["status"], body["data"], body["code"]) == (429, None, "export_limit_reached")
    assert int(refused.headers["Retry-After"]) > 0
    assert len(native_jobs(api, owner)) == 3


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"apps": ["REPLY_IO"]}, "apps"),
        ({"apps": []}, "apps"),
        ({"apps": ["INSTANTLY"], "ids": ["not-a-uuid"]}, "ids"),
        ({"apps": ["INSTANTLY"], "status": "INACTIVE"}, "status"),
        ({"apps": ["INSTANTLY"], "tagIds": ["a", "b"]}, "tagIds"),
        ({"ids": []}, "apps"),
    ],
)
def test_a_bad_export_is_422_and_starts_nothing(
    api: TestClient, db: Database, owner: Caller, body: dict[str, Any], field: str
) -> None:
    add_account(api, owner)
    ready_mailboxes(db, owner.workspace_id, 1)

    response = export(api, owner, **body)

    assert response.status_code == 422, response.text
    assert response.json()["status"] == 422
    assert field in (response.json()["field"] or "")
    assert native_jobs(api, owner) == []


def test_an_unknown_app_names_the_supported_ones(api: TestClient, owner: Caller) -> None:
    response = export(api, owner, apps=["INSTANTLY", "QUICKMAIL"])

    assert response.status_code == 422
    message = response.json()["message"]
    for app in (
        "INSTANTLY",
        "SMARTLEAD",
        "EMAILBISON",
        "LEMLIST",
        "PLUSVIBE",
        "REACHINBOX",
        "MANUAL",
    ):
        assert app in message


def test_manual_gives_a_csv_link_and_starts_no_job(
    api: TestClient, db: Database, owner: Caller
) -> None:
    ids = ready_mailboxes(db, owner.workspace_id, 2)

    response = export(api, owner, apps=["MANUAL"], ids=[str(ids[0])])

    assert response.status_code == 200, response.text
    assert response.json() == {"status": 200, "message": STARTED, "data": None}
    assert "X-Export-Ids" not in response.headers
    url = response.headers["X-Export-Csv-Url"]
    assert "/v1/exports.csv?" in url
    assert native_jobs(api, owner) == []
    csv = api.get(url, headers=owner.headers)
    assert csv.status_code == 200, csv.text
    lines = csv.text.strip().splitlines()
    assert lines[0].startswith("email,")
    assert len(lines) == 2


def test_a_viewer_may_not_export(api: TestClient, db: Database, owner: Caller) -> None:
    add_account(api, owner)
    ids = [str(i) for i in ready_mailboxes(db, owner.workspace_id, 1)]
    viewer = make_member(db, owner, Role.VIEWER)

    response = export(api, viewer, apps=["INSTANTLY"], ids=ids)

    assert response.status_code == 403, response.text
    assert native_jobs(api, owner) == []
    # Reading the status is allowed.
    assert status(api, viewer, 1).status_code == 404


@pytest.mark.usefixtures("without_lemlist_client")
def test_several_apps_are_all_or_nothing(api: TestClient, db: Database, owner: Caller) -> None:
    add_account(api, owner)
    add_account(api, owner, "LEMLIST")
    ids = [str(i) for i in ready_mailboxes(db, owner.workspace_id, 1)]

    refused = export(api, owner, apps=["INSTANTLY", "LEMLIST"], ids=ids)

    # An app without an API client (LEMLIST made one here): its CSV works, its API export not.
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "export_app_not_supported"
    assert native_jobs(api, owner) == []
    assert status(api, owner, 1).status_code == 404


def test_the_export_headers_and_status_are_in_the_surface_document(client: TestClient) -> None:
    paths = client.get("/zapmail/openapi.json").json()["paths"]

    for path in ("/zapmail/api/v2/exports/mailboxes", "/zapmail/api/v1/exports/export-mailboxes"):
        headers = paths[path]["post"]["responses"]["200"]["headers"]
        assert set(headers) == {"X-Export-Ids", "X-Export-Csv-Url"}
    status_op = paths["/zapmail/api/v2/exports/status"]["get"]
    [param] = [p for p in status_op["parameters"] if p["in"] == "query"]
    assert (param["name"], param["required"], param["schema"]["type"]) == (
        "exportId",
        True,
        "integer",
    )
