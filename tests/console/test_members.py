"""The members page through workspaces.members: an OWNER lists, changes roles and removes; the
last OWNER stays; everyone else is refused by the service, with nothing changed."""

from __future__ import annotations

from fastapi.testclient import TestClient

from mailfleet.db import Database
from mailfleet.models import Event, Membership, Role
from tests.console.conftest import csrf_of, set_password, sign_in
from tests.factories import Caller, count_rows, make_member


def _role(db: Database, owner: Caller, member: Caller) -> Role | None:
    with db.transaction() as session:
        row = (
            session.query(Membership)
            .filter_by(workspace_id=owner.workspace_id, user_id=member.user_id)
            .one_or_none()
        )
        return row.role if row else None


def test_an_owner_lists_the_members(console: TestClient, owner: Caller, db: Database) -> None:
    editor = make_member(db, owner, Role.EDITOR)
    html = console.get("/console/").text
    assert 'href="/console/members"' in html
    page = console.get("/console/members").text
    rows = page.split('<table id="member-list">')[1]
    assert owner.email in rows
    assert editor.email in rows
    assert f'<tr data-member="{editor.user_id}">' in rows
    assert '<option value="EDITOR" selected>' in rows.split(f'data-member="{editor.user_id}"')[1]


def test_an_owner_changes_a_role_and_removes_a_member(
    console: TestClient, owner: Caller, db: Database
) -> None:
    editor = make_member(db, owner, Role.EDITOR)
    token = csrf_of(console.get("/console/members").text)
    changed = console.post(
        f"/console/members/{editor.user_id}/role",
        data={"csrf_token": token, "role": "ADMIN"},
        follow_redirects=False,
    )
    assert changed.status_code == 303
    assert _role(db, owner, editor) == Role.ADMIN
    assert count_rows(db, Event, type="member.role_changed") == 1
    removed = console.post(
        f"/console/members/{editor.user_id}/remove",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert removed.status_code == 303
    assert removed.headers["location"] == "/console/members"
    assert _role(db, owner, editor) is None
    assert count_rows(db, Event, type="member.removed") == 1


def test_the_last_owner_is_kept_and_told_why(
    console: TestClient, owner: Caller, db: Database
) -> None:
    token = csrf_of(console.get("/console/members").text)
    answer = console.post(
        f"/console/members/{owner.user_id}/role", data={"csrf_token": token, "role": "VIEWER"}
    )
    assert answer.status_code == 409
    assert 'id="member-error"' in answer.text
    assert "at least one OWNER" in answer.text
    assert _role(db, owner, owner) == Role.OWNER


def test_a_viewer_is_refused_and_changes_nothing(
    client: TestClient, owner: Caller, db: Database
) -> None:
    viewer = make_member(db, owner, Role.VIEWER)
    editor = make_member(db, owner, Role.EDITOR)
    set_password(db, viewer.user_id)
    token = sign_in(client, viewer.email)
    assert 'href="/console/members"' not in client.get("/console/").text
    assert client.get("/console/members").status_code == 403
    answer = client.post(
        f"/console/members/{editor.user_id}/role", data={"csrf_token": token, "role": "VIEWER"}
    )
    assert answer.status_code == 403
    assert "insufficient_role" in answer.text
    removed = client.post(f"/console/members/{editor.user_id}/remove", data={"csrf_token": token})
    assert removed.status_code == 403
    assert _role(db, owner, editor) == Role.EDITOR
