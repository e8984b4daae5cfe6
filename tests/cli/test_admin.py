"""`mailfleet user|workspace|key|allocation` and `bootstrap` against a real database, and the
rule that none of them but bootstrap (and serve, migrate) creates one."""

from __future__ import annotations

import re
import sqlite3
import uuid
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from mailfleet.cli.admin import SlotType
from mailfleet.config import MailboxType
from mailfleet.db import Database
from mailfleet.models import Allocation, ApiKey, Role, User, Workspace
from tests.cli.conftest import RunCli
from tests.factories import make_member, make_tenant

TOKEN = re.compile(r"mf_[A-Za-z0-9_-]+")


def _token(output: str) -> str:
    found = TOKEN.findall(output)
    assert len(found) == 1, output
    return found[0]


def _user(db: Database, email: str) -> User | None:
    with db.transaction(write=False) as session:
        return session.scalars(select(User).where(User.email == email)).first()


# --- no database is ever made by accident ----------------------------------------------------


def test_key_create_without_a_database_fails_in_one_line_and_creates_nothing(
    run_cli: RunCli, tmp_path: Path
) -> None:
    result = run_cli("key", "create", "owner@mailfleet.local")

    assert result.exit_code == 1
    expected = tmp_path / "data" / "mailfleet.db"
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    assert str(expected) in errors[0]
    assert "MAILFLEET_DATA_DIR" in errors[0]
    assert "MAILFLEET_DATABASE_URL" in errors[0]
    assert "Traceback" not in result.output
    assert not (tmp_path / "data").exists()


def test_every_admin_command_refuses_a_missing_database(run_cli: RunCli, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    env: dict[str, str | None] = {"MAILFLEET_DATA_DIR": str(elsewhere)}
    commands = [
        ["user", "create", "someone@example.com"],
        ["user", "list"],
        ["workspace", "create", "someone@example.com", "W"],
        ["workspace", "list"],
        ["key", "list", "someone@example.com"],
        ["key", "revoke", str(uuid.uuid4())],
        ["allocation", "set", str(uuid.uuid4()), "SMTP", "5"],
        ["worker"],
        ["check-migrations"],
    ]
    for command in commands:
        result = run_cli(*command, env=env)
        assert result.exit_code == 1, (command, result.output)
        assert f"no database at {elsewhere / 'mailfleet.db'}" in result.output, command
    assert not elsewhere.exists()


def test_a_file_without_mailfleet_tables_is_refused_not_migrated(
    run_cli: RunCli, tmp_path: Path
) -> None:
    (tmp_path / "data").mkdir()
    empty = tmp_path / "data" / "mailfleet.db"
    empty.touch()

    result = run_cli("user", "list")

    assert result.exit_code == 1
    assert "has no Mailfleet tables" in result.output
    assert "mailfleet migrate" in result.output
    with sqlite3.connect(empty) as connection:
        assert connection.execute("SELECT name FROM sqlite_master").fetchall() == []


def test_migrate_creates_the_database_and_later_commands_use_it(
    run_cli: RunCli, tmp_path: Path
) -> None:
    assert run_cli("migrate").exit_code == 0
    assert (tmp_path / "data" / "mailfleet.db").exists()

    result = run_cli("user", "list")
    assert result.exit_code == 0, result.output


def test_each_command_says_which_database_it_uses(cli: RunCli, db: Database) -> None:
    result = cli("user", "list")

    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Database: ")]
    assert len(lines) == 1
    url = db.engine.url
    if url.get_backend_name() == "sqlite":
        assert lines[0] == f"Database: SQLite {url.database}"
    else:
        assert url.host is not None
        assert url.host in lines[0]
        if url.password:
            assert str(url.password) not in lines[0]
            assert "***" in lines[0]


# --- the commands themselves -------------------------------------------------------------------


def test_bootstrap_creates_the_owner_once_with_a_working_key(
    cli: RunCli, db: Database, client: TestClient
) -> None:
    first = cli("bootstrap")
    assert first.exit_code == 0, first.output
    token = _token(first.output)
    account = client.get("/v1/account", headers={"Authorization": f"Bearer {token}"})
    assert account.status_code == 200, account.text
    assert account.json()["user"]["email"] == "owner@mailfleet.local"
    owner = _user(db, "owner@mailfleet.local")
    assert owner is not None
    assert owner.is_operator

    again = cli("bootstrap")
    assert again.exit_code == 0
    assert "Users already exist" in again.output
    assert not TOKEN.search(again.output)


def test_a_lost_first_key_is_replaced_from_the_owners_email_in_user_list(
    cli: RunCli, client: TestClient
) -> None:
    cli("bootstrap")

    listed = cli("user", "list")
    assert listed.exit_code == 0
    assert "owner@mailfleet.local" in listed.stdout

    created = cli("key", "create", "owner@mailfleet.local")
    assert created.exit_code == 0, created.output
    # The key alone on stdout, so a script can capture it.
    token = created.stdout.strip()
    assert TOKEN.fullmatch(token)
    response = client.get("/v1/account", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


def test_user_and_workspace_create_and_list(cli: RunCli, db: Database) -> None:
    made = cli("user", "create", "ada@example.com", "--name", "Ada", "--workspace", "Acme")
    assert made.exit_code == 0, made.output
    second = cli("workspace", "create", "ada@example.com", "Acme Two")
    assert second.exit_code == 0, second.output

    with db.transaction(write=False) as session:
        names = set(session.scalars(select(Workspace.name)))
    assert names == {"Acme", "Acme Two"}
    listed = cli("workspace", "list")
    assert "Acme Two" in listed.stdout
    assert "ada@example.com" in listed.stdout
    users = cli("user", "list")
    assert "ada@example.com" in users.stdout
    assert "Ada" in users.stdout


def test_refusals_are_one_line_with_the_code(cli: RunCli) -> None:
    cli("user", "create", "ada@example.com")

    duplicate = cli("user", "create", "ada@example.com")
    assert duplicate.exit_code == 1
    assert "Error: user_exists" in duplicate.output

    unknown = cli("workspace", "create", "nobody@example.com", "W")
    assert unknown.exit_code == 1
    assert "no user nobody@example.com" in unknown.output

    for command in (["key", "revoke", "not-a-uuid"], ["allocation", "set", "x", "SMTP", "1"]):
        bad = cli(*command)
        assert bad.exit_code == 1
        assert "is not a valid" in bad.output
        assert "Traceback" not in bad.output


def test_key_list_and_revoke(cli: RunCli, db: Database, client: TestClient) -> None:
    tenant = make_tenant(db)
    made = cli("key", "create", tenant.email, "--name", "laptop")
    token = made.stdout.strip()

    listed = cli("key", "list", tenant.email)
    assert listed.exit_code == 0
    assert "laptop" in listed.stdout
    assert token[:11] in listed.stdout
    with db.transaction(write=False) as session:
        key_id = session.scalars(select(ApiKey.id).where(ApiKey.name == "laptop")).one()
    assert str(key_id) in listed.stdout

    revoked = cli("key", "revoke", str(key_id))
    assert revoked.exit_code == 0, revoked.output
    response = client.get("/v1/account", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    # The other key of the user still works.
    assert client.get("/v1/account", headers=tenant.headers).status_code == 200


def test_key_pinned_to_a_workspace_only_for_its_admins(cli: RunCli, db: Database) -> None:
    tenant = make_tenant(db)
    pinned = cli("key", "create", tenant.email, "--workspace", str(tenant.workspace_id))
    assert pinned.exit_code == 0, pinned.output
    with db.transaction(write=False) as session:
        workspaces = set(session.scalars(select(ApiKey.workspace_id).where(ApiKey.name == "cli")))
    assert workspaces == {tenant.workspace_id}

    missing = cli("key", "create", tenant.email, "--workspace", str(uuid.uuid4()))
    assert missing.exit_code == 1
    assert "workspace_not_found" in missing.output

    # As through the API, a VIEWER gets no key pinned to the workspace.
    viewer = make_member(db, tenant, Role.VIEWER)
    refused = cli("key", "create", viewer.email, "--workspace", str(tenant.workspace_id))
    assert refused.exit_code == 1
    assert "insufficient_role" in refused.output
    with db.transaction(write=False) as session:
        pinned_keys = select(ApiKey).where(
            ApiKey.user_id == viewer.user_id, ApiKey.workspace_id.is_not(None)
        )
        assert session.scalars(pinned_keys).all() == []


def test_allocation_set_gives_slots_the_account_shows(
    cli: RunCli, db: Database, client: TestClient
) -> None:
    tenant = make_tenant(db)

    result = cli("allocation", "set", str(tenant.workspace_id), "SMTP", "7")

    assert result.exit_code == 0, result.output
    account = client.get("/v1/account", headers=tenant.headers).json()
    assert account["allocations"]["SMTP"]["allocated"] == 7
    with db.transaction(write=False) as session:
        assert session.scalars(select(Allocation.slots)).all() == [7]

    negative = cli("allocation", "set", str(tenant.workspace_id), "SMTP", "--", "-1")
    assert negative.exit_code == 1
    assert "invalid_slots" in negative.output


def test_the_cli_offers_exactly_the_mailbox_types() -> None:
    assert [member.value for member in SlotType] == [member.value for member in MailboxType]
