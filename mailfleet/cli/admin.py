"""User, workspace, API key and allocation management from the shell."""

from __future__ import annotations

import uuid

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from mailfleet import migrations
from mailfleet.account.service import create_user
from mailfleet.auth.service import issue_key
from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.exceptions import MailfleetError
from mailfleet.kit import clock
from mailfleet.models import ApiKey, MailboxType, User, Workspace
from mailfleet.operator.service import set_allocation
from mailfleet.workspaces.service import create_workspace

console = Console()
users = typer.Typer(help="Users.", no_args_is_help=True)
workspaces = typer.Typer(help="Workspaces.", no_args_is_help=True)
keys = typer.Typer(help="API keys.", no_args_is_help=True)
allocations = typer.Typer(help="Mailbox slot allocations.", no_args_is_help=True)

CLI_ACTOR = "cli"


def _database() -> Database:
    database = Database(Settings())
    migrations.upgrade(database.engine)
    return database


def _user(session: object, email: str) -> User:
    found = session.scalars(select(User).where(User.email == email.strip().lower())).first()  # type: ignore[attr-defined]
    if found is None:
        raise typer.BadParameter(f"no user with email {email}")
    return found


def _fail(error: MailfleetError) -> None:
    console.print(f"[red]{error.code}[/]: {error.detail}")
    raise typer.Exit(1)


@users.command("create")
def user_create(
    email: str,
    name: str = typer.Option("", help="Display name."),
    operator: bool = typer.Option(False, "--operator", help="Give operator (staff) rights."),
    password: str = typer.Option(None, help="Optional password (argon2-hashed)."),
    workspace: str = typer.Option(None, help="Also create a workspace with this name."),
) -> None:
    """Create a user (and optionally their first workspace)."""
    with _database().transaction() as session:
        try:
            user = create_user(
                session, email=email, name=name, password=password, is_operator=operator
            )
            if workspace:
                create_workspace(session, owner=user, name=workspace)
        except MailfleetError as error:
            _fail(error)
        console.print(f"Created user {user.email} ({user.id})")


@users.command("list")
def user_list() -> None:
    """List users."""
    with _database().transaction(write=False) as session:
        table = Table("id", "email", "name", "operator")
        for user in session.scalars(select(User).order_by(User.email)):
            table.add_row(str(user.id), user.email, user.name, "yes" if user.is_operator else "")
        console.print(table)


@workspaces.command("create")
def workspace_create(owner_email: str, name: str) -> None:
    """Create a workspace owned by a user."""
    with _database().transaction() as session:
        try:
            workspace = create_workspace(session, owner=_user(session, owner_email), name=name)
        except MailfleetError as error:
            _fail(error)
        console.print(f"Created workspace {workspace.name} ({workspace.id})")


@workspaces.command("list")
def workspace_list() -> None:
    """List workspaces."""
    with _database().transaction(write=False) as session:
        table = Table("id", "name", "created by")
        rows = session.execute(
            select(Workspace.id, Workspace.name, User.email).join(
                User, User.id == Workspace.owner_id
            )
        )
        for workspace_id, name, owner in rows:
            table.add_row(str(workspace_id), name, owner)
        console.print(table)


@keys.command("create")
def key_create(
    email: str,
    name: str = typer.Option("cli", help="A name to recognise the key by."),
    workspace: str = typer.Option(None, help="Pin the key to this workspace id."),
) -> None:
    """Create an API key for a user and print it once."""
    with _database().transaction() as session:
        pinned = uuid.UUID(workspace) if workspace else None
        issued = issue_key(session, user=_user(session, email), name=name, workspace_id=pinned)
        console.print(f"API key (shown once): [bold]{issued.token}[/]")


@keys.command("list")
def key_list(email: str) -> None:
    """List a user's API keys."""
    with _database().transaction(write=False) as session:
        table = Table("id", "prefix", "name", "last used", "revoked")
        for key in session.scalars(
            select(ApiKey).where(ApiKey.user_id == _user(session, email).id)
        ):
            table.add_row(
                str(key.id),
                key.prefix,
                key.name,
                str(key.last_used_at or ""),
                str(key.revoked_at or ""),
            )
        console.print(table)


@keys.command("revoke")
def key_revoke(key_id: str) -> None:
    """Revoke an API key by id."""
    with _database().transaction() as session:
        key = session.get(ApiKey, uuid.UUID(key_id))
        if key is None:
            raise typer.BadParameter(f"no API key {key_id}")
        key.revoked_at = key.revoked_at or clock.now()
        console.print(f"Revoked {key.prefix}")


@allocations.command("set")
def allocation_set(workspace_id: str, mailbox_type: MailboxType, slots: int) -> None:
    """Set how many mailboxes of a type a workspace may hold."""
    with _database().transaction() as session:
        try:
            set_allocation(
                session,
                workspace_id=uuid.UUID(workspace_id),
                mailbox_type=mailbox_type,
                slots=slots,
                actor=CLI_ACTOR,
            )
        except MailfleetError as error:
            _fail(error)
        console.print(f"{mailbox_type.value}: {slots} slots")
