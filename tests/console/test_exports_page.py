"""The exports page: sequencer accounts (never their credentials) added and tested through the
services of /v1/export-accounts with its roles, export jobs newest first with their results,
the CSV files of /v1/exports.csv under the session cookie; a VIEWER reads only, and another
workspace's job or account is 404."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from mailfleet.db import Database
from mailfleet.jobs.queue import Runtime
from mailfleet.models import ExportAccount, Role
from tests.console.conftest import csrf_of, set_password, sign_in
from tests.exports.conftest import add_account, ready_mailboxes
from tests.factories import Caller, count_rows, make_member, make_tenant
from tests.fakes.sequencers.instantly import InstantlyFake

SECRET_KEY = "sk-console-very-secret"


@pytest.fixture
def instantly() -> Iterator[InstantlyFake]:
    with InstantlyFake(api_key=SECRET_KEY) as fake:
        yield fake


@pytest.fixture
def fake_settings(instantly: InstantlyFake) -> dict[str, Any]:
    return {
        "export_instantly_base_url": instantly.base_url,
        "export_backoff_seconds": [0.0],
        "export_timeout": 10.0,
    }


@pytest.fixture
def client(make_client: Callable[..., TestClient], fake_settings: dict[str, Any]) -> TestClient:
    return make_client(**fake_settings)


@pytest.fixture
def run_job(
    db: Database, make_settings: Callable[..., Any], fake_settings: dict[str, Any]
) -> Callable[[str], None]:
    runtime = Runtime(make_settings(**fake_settings), db)
    return lambda export_id: runtime.run_now("exports.run", export_id)


def _post(client: TestClient, path: str, **fields: str) -> Any:
    token = csrf_of(client.get("/console/exports").text)
    return client.post(path, data={"csrf_token": token, **fields})


def _add(client: TestClient, **fields: str) -> Any:
    body = {"app": "INSTANTLY", "label": "main", "api_key": SECRET_KEY} | fields
    return _post(client, "/console/export-accounts", **body)


def _section(html: str, table_id: str) -> str:
    return html.split(f'<table id="{table_id}">')[1].split("</table>")[0]


def test_accounts_are_listed_without_their_credentials(console: TestClient, owner: Caller) -> None:
    add_account(console, owner, label="Outbound", credentials={"api_key": SECRET_KEY})
    html = console.get("/console/exports").text
    assert 'href="/console/exports"' in html  # in the navigation
    rows = _section(html, "account-list")
    assert "<td>INSTANTLY</td>" in rows
    assert "<td>Outbound</td>" in rows
    assert SECRET_KEY not in html
    assert "No exports yet." in html


def test_an_account_added_through_the_form_is_the_apis(
    console: TestClient, owner: Caller, db: Database
) -> None:
    answer = _add(console, label="From the console")
    assert answer.status_code == 201
    assert 'id="account-added"' in answer.text
    assert SECRET_KEY not in answer.text
    listed = console.get("/v1/export-accounts", headers=owner.headers).json()["items"]
    assert [(a["app"], a["label"], a["credential_keys"]) for a in listed] == [
        ("INSTANTLY", "From the console", ["api_key"])
    ]
    with db.transaction(write=False) as session:
        stored = session.scalars(select(ExportAccount)).one()
    assert SECRET_KEY not in stored.credentials_enc
    assert "<td>From the console</td>" in _section(
        console.get("/console/exports").text, "account-list"
    )


def test_a_refused_account_comes_back_with_the_reason_and_creates_nothing(
    console: TestClient, db: Database
) -> None:
    # The service's rule: EmailBison needs the URL of its instance.
    answer = _add(console, app="EMAILBISON", label="bison")
    assert answer.status_code == 422
    error = answer.text.split('id="export-error">')[1].split("</p>")[0]
    assert "instance_url" in error
    assert 'value="bison"' in answer.text  # the label as typed ...
    assert SECRET_KEY not in answer.text  # ... never the key
    assert '<option value="EMAILBISON" selected>' in answer.text
    # The API's schema: a key is required, an app must be one of them.
    assert _add(console, api_key="").status_code == 422
    assert _add(console, app="MAILCHIMP").status_code == 422
    assert count_rows(db, ExportAccount) == 0


def test_the_test_button_shows_the_apps_answer(
    console: TestClient, owner: Caller, instantly: InstantlyFake
) -> None:
    good = add_account(console, owner, label="good", credentials={"api_key": SECRET_KEY})
    bad = add_account(console, owner, label="bad", credentials={"api_key": "wrong-key"})
    answer = _post(console, f"/console/export-accounts/{good['id']}/test")
    assert answer.status_code == 200
    check = answer.text.split('id="account-check">')[1].split("</section>")[0]
    assert "good" in check
    assert "Works: The API key works." in check
    answer = _post(console, f"/console/export-accounts/{bad['id']}/test")
    check = answer.text.split('id="account-check">')[1].split("</section>")[0]
    assert "Does not work" in check
    assert "wrong-key" not in answer.text


def test_jobs_are_listed_newest_first_and_link_to_their_results(
    console: TestClient, owner: Caller, db: Database, run_job: Callable[[str], None]
) -> None:
    add_account(console, owner, credentials={"api_key": SECRET_KEY})
    ids = [str(i) for i in ready_mailboxes(db, owner.workspace_id, 2)]
    first = console.post(
        "/v1/exports", json={"app": "INSTANTLY", "mailbox_ids": ids}, headers=owner.headers
    ).json()
    run_job(first["id"])
    second = console.post(
        "/v1/exports", json={"app": "INSTANTLY", "mailbox_ids": ids[:1]}, headers=owner.headers
    ).json()
    jobs = _section(console.get("/console/exports").text, "job-list")
    assert jobs.index(second["id"]) < jobs.index(first["id"])
    assert f'<a href="/console/exports/{first["id"]}">INSTANTLY</a>' in jobs
    done = jobs.split(f'data-job="{first["id"]}"')[1].split("</tr>")[0]
    assert '<td class="status">COMPLETED</td>' in done
    assert "<td>2</td>" in done  # two created in the app
    html = console.get(f"/console/exports/{first['id']}").text
    assert '<dd id="job-status">COMPLETED</dd>' in html
    results = _section(html, "result-list")
    addresses = [r["address"] for r in _api_results(console, owner, first["id"])]
    assert len(addresses) == 2
    for address in addresses:
        assert f"<td>{address}</td>" in results
    assert results.count('<td class="status">CREATED</td>') == 2
    filtered = console.get(f"/console/exports/{first['id']}?status=FAILED").text
    assert "No results match." in filtered
    # The filter form's "Any" sends an empty status.
    assert console.get(f"/console/exports/{first['id']}?status=").status_code == 200


def test_exporting_from_the_page_starts_the_apis_job(
    console: TestClient, owner: Caller, db: Database, run_job: Callable[[str], None]
) -> None:
    account = add_account(console, owner, credentials={"api_key": SECRET_KEY})
    nothing = _post(console, "/console/exports", account_id=account["id"], type="SMTP")
    assert nothing.status_code == 422
    assert "No mailbox" in nothing.text
    assert console.get("/v1/exports", headers=owner.headers).json()["items"] == []

    ready_mailboxes(db, owner.workspace_id, 3)
    token = csrf_of(console.get("/console/exports").text)
    started = console.post(
        "/console/exports",
        data={"csrf_token": token, "account_id": account["id"], "type": "SMTP"},
        follow_redirects=False,
    )
    assert started.status_code == 303, started.text
    [job] = console.get("/v1/exports", headers=owner.headers).json()["items"]
    assert started.headers["location"] == f"/console/exports/{job['id']}"
    assert (job["app"], job["account_id"], job["total"]) == ("INSTANTLY", account["id"], 3)
    run_job(job["id"])
    assert '<dd id="job-status">COMPLETED</dd>' in console.get(started.headers["location"]).text
    wrong = _post(console, "/console/exports", account_id=account["id"], type="FAX")
    assert wrong.status_code == 422


def _api_results(client: TestClient, caller: Caller, export_id: str) -> list[dict[str, Any]]:
    page = client.get(f"/v1/exports/{export_id}/results", headers=caller.headers).json()
    items: list[dict[str, Any]] = page["items"]
    return items


def test_results_are_100_a_page(console: TestClient, owner: Caller, db: Database) -> None:
    add_account(console, owner, credentials={"api_key": SECRET_KEY})
    ids = [str(i) for i in ready_mailboxes(db, owner.workspace_id, 101)]
    job = console.post(
        "/v1/exports", json={"app": "INSTANTLY", "mailbox_ids": ids}, headers=owner.headers
    ).json()
    html = console.get(f"/console/exports/{job['id']}").text
    assert _section(html, "result-list").count("<tr>") == 101  # the header's row and 100
    following = re.search(r'href="(/console/exports/[^"?]+\?cursor=[^"]+)">Next page', html)
    assert following, "a link to the next page"
    rest = console.get(following.group(1).replace("&amp;", "&")).text
    assert _section(rest, "result-list").count("<tr>") == 2
    assert "Next page" not in rest


def test_the_csv_is_the_apis_file(console: TestClient, owner: Caller, db: Database) -> None:
    ready_mailboxes(db, owner.workspace_id, 3)
    html = console.get("/console/exports").text
    assert 'href="/console/exports.csv?format=INSTANTLY"' in html
    assert 'href="/console/exports.csv?format=GENERIC"' in html
    for fmt in ("INSTANTLY", "SMARTLEAD", "GENERIC"):
        mine = console.get(f"/console/exports.csv?format={fmt}")
        assert mine.status_code == 200
        assert mine.headers["content-type"].startswith("text/csv")
        assert mine.headers["cache-control"] == "no-store"
        assert f"mailboxes-{fmt.lower()}.csv" in mine.headers["content-disposition"]
        api = console.get(f"/v1/exports.csv?format={fmt}", headers=owner.headers)
        assert mine.content == api.content
        assert len(mine.text.strip().splitlines()) == 4  # the header and three mailboxes


def test_a_viewer_sees_the_lists_but_cannot_add_test_or_download(
    client: TestClient, owner: Caller, db: Database
) -> None:
    account = add_account(client, owner, label="Outbound", credentials={"api_key": SECRET_KEY})
    viewer = make_member(db, owner, Role.VIEWER)
    set_password(db, viewer.user_id)
    token = sign_in(client, viewer.email)
    html = client.get("/console/exports").text
    assert "<td>Outbound</td>" in _section(html, "account-list")
    main = html.split("<main")[1]
    assert 'method="post"' not in main
    assert "exports.csv" not in main
    for path in (
        "/console/export-accounts",
        f"/console/export-accounts/{account['id']}/test",
        "/console/exports",
    ):
        refused = client.post(
            path,
            data={
                "csrf_token": token,
                "app": "INSTANTLY",
                "label": "x",
                "api_key": "k",
                "account_id": account["id"],
            },
        )
        assert refused.status_code == 403
        assert "insufficient_role" in refused.text
    assert client.get("/console/exports.csv").status_code == 403
    assert count_rows(db, ExportAccount) == 1


def test_an_editor_downloads_but_accounts_need_admin_as_on_the_api(
    client: TestClient, owner: Caller, db: Database
) -> None:
    editor = make_member(db, owner, Role.EDITOR)
    set_password(db, editor.user_id)
    sign_in(client, editor.email)
    html = client.get("/console/exports").text
    assert 'href="/console/exports.csv?format=GENERIC"' in html
    assert 'id="add-account"' not in html
    assert client.get("/console/exports.csv").status_code == 200
    refused = _add(client)
    assert refused.status_code == 403
    assert "insufficient_role" in refused.text
    api = client.post(
        "/v1/export-accounts",
        json={"app": "INSTANTLY", "label": "x", "credentials": {"api_key": "k"}},
        headers=editor.headers,
    )
    assert api.status_code == 403
    assert count_rows(db, ExportAccount) == 0


def test_another_workspaces_job_and_account_are_not_found(
    console: TestClient, db: Database
) -> None:
    stranger = make_tenant(db)
    theirs = add_account(console, stranger, label="Theirs", credentials={"api_key": SECRET_KEY})
    ids = [str(i) for i in ready_mailboxes(db, stranger.workspace_id, 1)]
    job = console.post(
        "/v1/exports", json={"app": "INSTANTLY", "mailbox_ids": ids}, headers=stranger.headers
    ).json()
    answer = console.get(f"/console/exports/{job['id']}")
    assert answer.status_code == 404
    assert "export_not_found" in answer.text
    assert console.get("/console/exports/not-an-id").status_code == 404
    tested = _post(console, f"/console/export-accounts/{theirs['id']}/test")
    assert tested.status_code == 404
    assert "export_account_not_found" in tested.text
    exported = _post(console, "/console/exports", account_id=theirs["id"])
    assert exported.status_code == 404
    assert len(console.get("/v1/exports", headers=stranger.headers).json()["items"]) == 1
    html = console.get("/console/exports").text
    assert "Theirs" not in html
    assert job["id"] not in html
    assert console.get("/console/exports.csv").text.strip().count("\n") == 0  # the header only
