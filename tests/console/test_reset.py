"""Passwords from the command line: `mailfleet user create --password` signs in to the console,
and `mailfleet console reset-link` prints a one-time link that sets a new one."""

from __future__ import annotations

from fastapi.testclient import TestClient

from mailfleet.console.resets import LINK_LIFETIME
from mailfleet.db import Database
from mailfleet.kit import clock
from mailfleet.models import ConsoleSession, PasswordReset
from tests.cli.conftest import RunCli
from tests.console.conftest import csrf_of, sign_in
from tests.factories import count_rows

NEW_PASSWORD = "a brand new passphrase"


def _user(cli: RunCli, email: str) -> None:
    result = cli("user", "create", email, "--password", "the old password", "--workspace", "W")
    assert result.exit_code == 0, result.output


def _reset_link(cli: RunCli, email: str) -> str:
    result = cli("console", "reset-link", email, "--base-url", "http://testserver/")
    assert result.exit_code == 0, result.output
    link = result.stdout.strip()
    assert link.startswith("http://testserver/console/reset/")
    return link.removeprefix("http://testserver")


def _use(client: TestClient, path: str, password: str, again: str | None = None) -> object:
    form = client.get(path)
    assert form.status_code == 200
    return client.post(
        path,
        data={
            "csrf_token": csrf_of(form.text),
            "password": password,
            "password_again": password if again is None else again,
        },
        follow_redirects=False,
    )


def test_a_user_created_with_a_password_signs_in(
    cli: RunCli,
    client: TestClient,
) -> None:
    created = cli(
        "user",
        "create",
        "cli-user@example.com",
        "--password",
        "from the shell 123",
        "--workspace",
        "Shell",
    )
    assert created.exit_code == 0, created.output
    sign_in(client, "cli-user@example.com", "from the shell 123")
    assert "Shell" in client.get("/console/").text


def test_a_reset_link_sets_a_new_password_once_and_signs_out_everywhere(
    cli: RunCli,
    client: TestClient,
    make_client,
    db: Database,
) -> None:  # type: ignore[no-untyped-def]
    assert (
        cli("user", "create", "forgot@example.com", "--password", "the old password").exit_code == 0
    )
    elsewhere = make_client()
    sign_in(elsewhere, "forgot@example.com", "the old password")
    path = _reset_link(cli, "forgot@example.com")
    answer = _use(client, path, NEW_PASSWORD)
    assert answer.status_code == 303  # type: ignore[attr-defined]
    assert answer.headers["location"] == "/console/login?reset=done"  # type: ignore[attr-defined]
    # The other browser's session ended with the old password.
    assert elsewhere.get("/console/", follow_redirects=False).status_code == 303
    sign_in(client, "forgot@example.com", NEW_PASSWORD)
    # Once only.
    assert client.get(path).status_code == 404
    with db.transaction() as session:
        assert session.query(PasswordReset).filter(PasswordReset.used_at.is_(None)).count() == 0
        assert (
            session.query(ConsoleSession).filter(ConsoleSession.revoked_at.is_(None)).count() == 1
        )


def test_a_reset_link_expires(cli: RunCli, client: TestClient) -> None:
    assert (
        cli("user", "create", "late@example.com", "--password", "the old password").exit_code == 0
    )
    path = _reset_link(cli, "late@example.com")
    clock.advance(LINK_LIFETIME.total_seconds() + 1)
    assert client.get(path).status_code == 404


def test_a_short_or_mismatched_password_is_refused_and_the_link_stays(
    cli: RunCli,
    client: TestClient,
    db: Database,
) -> None:
    assert (
        cli("user", "create", "picky@example.com", "--password", "the old password").exit_code == 0
    )
    path = _reset_link(cli, "picky@example.com")
    assert _use(client, path, "short").status_code == 422  # type: ignore[attr-defined]
    assert _use(client, path, NEW_PASSWORD, "something else").status_code == 422  # type: ignore[attr-defined]
    forged = client.post(path, data={"password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
    assert forged.status_code == 403
    sign_in(client, "picky@example.com", "the old password")
    assert count_rows(db, PasswordReset, used_at=None) == 1


def test_a_reset_link_for_an_unknown_email_is_refused(cli: RunCli) -> None:
    result = cli("console", "reset-link", "nobody@example.com")
    assert result.exit_code != 0
    assert "user_not_found" in result.output
