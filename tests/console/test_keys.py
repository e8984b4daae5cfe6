"""The API keys page: the user's keys listed (never their tokens), one issued with its secret
shown on the answer page only, one revoked; the /v1 rules (a pinned key needs ADMIN) hold, and a
VIEWER only sees the list."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.models import ApiKey, Event, Role
from tests.console.conftest import csrf_of, set_password, sign_in
from tests.factories import Caller, count_rows, make_member

_ISSUED = re.compile(r'<section class="card" id="issued-key">.*?data-copy="([^"]+)"', re.S)


def _issue(client: TestClient, name: str, pin: bool = False) -> tuple[int, str]:
    token = csrf_of(client.get("/console/api-keys").text)
    data = {"csrf_token": token, "name": name} | ({"pin": "1"} if pin else {})
    answer = client.post("/console/api-keys", data=data)
    return answer.status_code, answer.text


def test_the_list_shows_each_key_without_its_token(console: TestClient, owner: Caller) -> None:
    html = console.get("/console/api-keys").text
    assert 'href="/console/api-keys"' in html  # in the navigation
    # make_tenant issued the owner one key, "test"; its token appears nowhere.
    row = html.split('<table id="key-list">')[1]
    assert "<td>test</td>" in row
    assert owner.token not in html
    assert owner.token[:8] in row  # the prefix, to recognise it by
    assert "<td>any of yours</td>" in row  # unpinned: it acts in any of the user's workspaces


def test_an_issued_key_is_shown_once_and_works(
    console: TestClient, owner: Caller, db: Database
) -> None:
    status, html = _issue(console, "ci runner")
    assert status == 201
    found = _ISSUED.search(html)
    assert found, "the answer page shows the new key"
    secret = found.group(1)
    assert "shown this once" in html
    # It is a working API key of the user's ...
    assert console.get("/v1/api-keys", headers={"authorization": f"Bearer {secret}"}).is_success
    # ... that the list, from now on, shows by name and prefix only.
    again = console.get("/console/api-keys").text
    assert "<td>ci runner</td>" in again
    assert secret not in again
    assert count_rows(db, Event, type="api_key.created") == 1


def test_a_pinned_key_needs_admin(client: TestClient, owner: Caller, db: Database) -> None:
    editor = make_member(db, owner, Role.EDITOR)
    set_password(db, editor.user_id)
    sign_in(client, editor.email)
    keys_before = count_rows(db, ApiKey)
    status, html = _issue(client, "pinned", pin=True)
    assert status == 403
    assert 'id="key-error"' in html
    assert 'value="pinned"' in html  # the name as typed
    assert count_rows(db, ApiKey) == keys_before


def test_a_key_without_a_name_is_refused(console: TestClient, db: Database) -> None:
    keys_before = count_rows(db, ApiKey)
    status, html = _issue(console, "   ")
    assert status == 422
    assert 'id="key-error"' in html
    assert count_rows(db, ApiKey) == keys_before


def test_revoke_stops_the_key(console: TestClient, owner: Caller, db: Database) -> None:
    with db.transaction() as session:
        key_id = session.query(ApiKey).filter(ApiKey.user_id == owner.user_id).one().id
    token = csrf_of(console.get("/console/api-keys").text)
    answer = console.post(
        f"/console/api-keys/{key_id}/revoke", data={"csrf_token": token}, follow_redirects=False
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/api-keys"
    assert console.get("/v1/api-keys", headers=owner.headers).status_code == 401
    assert "revoked " in console.get("/console/api-keys").text
    assert count_rows(db, Event, type="api_key.revoked") == 1


def test_a_viewer_sees_the_list_but_cannot_issue_or_revoke(
    client: TestClient, owner: Caller, db: Database
) -> None:
    viewer = make_member(db, owner, Role.VIEWER)
    set_password(db, viewer.user_id)
    token = sign_in(client, viewer.email)
    html = client.get("/console/api-keys").text
    assert '<table id="key-list">' in html
    assert 'method="post" action="/console/api-keys"' not in html
    assert "/revoke" not in html
    keys_before = count_rows(db, ApiKey)
    issued = client.post("/console/api-keys", data={"csrf_token": token, "name": "x"})
    assert issued.status_code == 403
    assert "insufficient_role" in issued.text
    with db.transaction() as session:
        key_id = session.query(ApiKey).filter(ApiKey.user_id == viewer.user_id).one().id
    revoked = client.post(f"/console/api-keys/{key_id}/revoke", data={"csrf_token": token})
    assert revoked.status_code == 403
    assert count_rows(db, ApiKey) == keys_before
    assert client.get("/v1/api-keys", headers=viewer.headers).status_code == 200


def test_another_users_key_cannot_be_revoked(
    console: TestClient, owner: Caller, db: Database
) -> None:
    other = make_member(db, owner, Role.ADMIN)
    with db.transaction() as session:
        key_id = session.query(ApiKey).filter(ApiKey.user_id == other.user_id).one().id
    token = csrf_of(console.get("/console/api-keys").text)
    answer = console.post(f"/console/api-keys/{key_id}/revoke", data={"csrf_token": token})
    assert answer.status_code == 404
    assert "api_key_not_found" in answer.text
    assert console.get("/v1/api-keys", headers=other.headers).status_code == 200
