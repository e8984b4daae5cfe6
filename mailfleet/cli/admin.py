"""User, workspace, API key and allocation management from the shell.

Only typer and rich at the top: services, models and SQLAlchemy load inside the commands, so
`mailfleet --help` answers at once. None of these commands creates a database
(`cli.database`): each works on the one `mailfleet serve` made, and says which.
"""

from __future__ import annotations

import enum
import uuid
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from mailfleet.cli.database import fail, load_settings, notes, open_database

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from mailfleet.exceptions import MailfleetError
    from mailfleet.models import User

console = Console()


def _group(help: str) -> typer.Typer:
    # Markdown re-flows help paragraphs (typer's "rich" mode keeps each docstring line break).
    return typer.Typer(help=help, no_args_is_help=True, rich_markup_mode="markdown")


users = _group("Users: create, list (find the owner's email).")
workspaces = _group("Workspaces: create, list.")
keys = _group("API keys: create (a new key for a user), list, revoke.")
allocations = _group("Mailbox slot allocations: set.")

CLI_ACTOR = "cli"


class SlotType(enum.StrEnum):
    """The mailbox types, as `mailfleet.config.MailboxType` names them (a test keeps the two
    equal): a copy so that typer can list the choices without importing the settings."""

    GOOGLE = "GOOGLE"
    MICROSOFT = "MICROSOFT"
    SMTP = "SMTP"
    SMTP_DEDICATED = "SMTP_DEDICATED"


def _user(session: Session, email: str) -> User:
    from sqlalchemy import select

    from mailfleet.models import User

    found = session.scalars(select(User).where(User.email == email.strip().lower())).first()
    if found is None:
        raise fail(f"no user {email} in this database (`mailfleet user list` shows them)")
    return found


def _table(*headers: str) -> Table:
    """A table that folds long values instead of cutting them: ids and emails are copied from it."""
    table = Table()
    for header in headers:
        # A whole id on one line, whatever the width: it is what the other commands take.
        table.add_column(header, overflow="fold", min_width=36 if header == "id" else None)
    return table


def _show(table: Table) -> None:
    # Piped or captured, rich would assume 80 columns and fold every row: give it room.
    if not console.is_terminal:
        console.width = max(console.width, 160)
    console.print(table)


def _uuid(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise fail(f"{value!r} is not a valid {what} id (a UUID)") from None


def _refused(error: MailfleetError) -> typer.Exit:
    return fail(f"{error.code}: {error.detail}")


@users.command("create")
def user_create(
    email: str,
    name: str = typer.Option("", help="Display name."),
    operator: bool = typer.Option(False, "--operator", help="Give operator (staff) rights."),
    password: str = typer.Option(
        None, help="Optional password, stored argon2-hashed; the API itself takes API keys only."
    ),
    workspace: str = typer.Option(None, help="Also create a workspace with this name."),
) -> None:
    """Create a user (and optionally their first workspace)."""
    from mailfleet.account.service import create_user
    from mailfleet.exceptions import MailfleetError
    from mailfleet.workspaces.service import create_workspace

    database = open_database()
    try:
        with database.transaction() as session:
            user = create_user(
                session, email=email, name=name, password=password, is_operator=operator
            )
            if workspace:
                create_workspace(session, owner=user, name=workspace)
    except MailfleetError as error:
        raise _refused(error) from None
    finally:
        database.dispose()
    console.print(f"Created user {user.email} ({user.id})")


@users.command("list")
def user_list() -> None:
    """List users, the first-start owner (an operator) first; `mailfleet key create EMAIL`
    gives any of them a new key."""
    from sqlalchemy import select

    from mailfleet.models import User

    database = open_database()
    try:
        with database.transaction(write=False) as session:
            table = _table("id", "email", "name", "operator", "created")
            for user in session.scalars(select(User).order_by(User.created_at, User.email)):
                table.add_row(
                    str(user.id),
                    user.email,
                    user.name,
                    "yes" if user.is_operator else "",
                    f"{user.created_at:%Y-%m-%d %H:%M}",
                )
    finally:
        database.dispose()
    _show(table)


@workspaces.command("create")
def workspace_create(owner_email: str, name: str) -> None:
    """Create a workspace owned by a user."""
    from mailfleet.exceptions import MailfleetError
    from mailfleet.workspaces.service import create_workspace

    database = open_database()
    try:
        with database.transaction() as session:
            workspace = create_workspace(session, owner=_user(session, owner_email), name=name)
    except MailfleetError as error:
        raise _refused(error) from None
    finally:
        database.dispose()
    console.print(f"Created workspace {workspace.name} ({workspace.id})")


@workspaces.command("list")
def workspace_list() -> None:
    """List workspaces and their owners."""
    from sqlalchemy import select

    from mailfleet.models import User, Workspace

    database = open_database()
    try:
        with database.transaction(write=False) as session:
            table = _table("id", "name", "owner")
            rows = session.execute(
                select(Workspace.id, Workspace.name, User.email)
                .join(User, User.id == Workspace.owner_id)
                .order_by(Workspace.created_at)
            )
            for workspace_id, name, owner in rows:
                table.add_row(str(workspace_id), name, owner)
    finally:
        database.dispose()
    _show(table)


@keys.command("create")
def key_create(
    email: str,
    name: str = typer.Option("cli", help="A name to recognise the key by."),
    workspace: str = typer.Option(
        None, help="Pin the key to this workspace id (the user must be its ADMIN or OWNER)."
    ),
) -> None:
    """Create an API key for a user and print it once (also when the first key is lost)."""
    from mailfleet.api_keys.service import PIN_ROLE
    from mailfleet.auth.service import issue_key
    from mailfleet.events import service as events
    from mailfleet.exceptions import MailfleetError
    from mailfleet.workspaces.service import membership_for

    pinned = _uuid(workspace, "workspace") if workspace else None
    database = open_database()
    try:
        with database.transaction() as session:
            user = _user(session, email)
            if pinned is not None:
                # The API's rule: a pinned key is an ADMIN's integration credential.
                membership_for(session, user.id, pinned, PIN_ROLE)
            issued = issue_key(session, user=user, name=name, workspace_id=pinned)
            events.record(
                session,
                workspace_id=pinned,
                type="api_key.created",
                subject_type="api_key",
                subject_id=issued.key.id,
                actor=CLI_ACTOR,
                name=name,
                prefix=issued.key.prefix,
            )
    except MailfleetError as error:
        raise _refused(error) from None
    finally:
        database.dispose()
    # The key alone on stdout, so `KEY=$(mailfleet key create ...)` works.
    notes.print(f"API key for {user.email} (shown once):", style="dim", highlight=False)
    typer.echo(issued.token)


@keys.command("list")
def key_list(email: str) -> None:
    """List a user's API keys (prefixes only: a key is shown once, at creation)."""
    from sqlalchemy import select

    from mailfleet.models import ApiKey

    database = open_database()
    try:
        with database.transaction(write=False) as session:
            table = _table("id", "prefix", "name", "last used", "revoked")
            query = select(ApiKey).where(ApiKey.user_id == _user(session, email).id)
            for key in session.scalars(query.order_by(ApiKey.created_at)):
                table.add_row(
                    str(key.id),
                    key.prefix,
                    key.name,
                    str(key.last_used_at or ""),
                    str(key.revoked_at or ""),
                )
    finally:
        database.dispose()
    _show(table)


@keys.command("revoke")
def key_revoke(key_id: str) -> None:
    """Revoke an API key by id (`mailfleet key list EMAIL` shows ids)."""
    from mailfleet.api_keys.service import revoke_key
    from mailfleet.kit import shared
    from mailfleet.models import ApiKey

    wanted = _uuid(key_id, "API key")
    settings = load_settings()
    database = open_database(settings)
    try:
        with database.transaction() as session:
            key = session.get(ApiKey, wanted)
            if key is None:
                raise fail(f"no API key {key_id}")
            revoke_key(session, key, actor=CLI_ACTOR)
            prefix = key.prefix
    finally:
        database.dispose()
    # Running servers cache a key's answer for a few seconds (auth.cache); with shared state
    # the revocation was published to them at commit.
    within = "5 seconds" if shared.backend(settings) == "memory" else "1 second"
    console.print(f"Revoked {prefix}: running servers refuse it within {within}.")


@allocations.command("set")
def allocation_set(workspace_id: str, mailbox_type: SlotType, slots: int) -> None:
    """Set how many mailboxes of a type a workspace may hold (slots start at 0)."""
    from mailfleet.billing.service import set_allocation
    from mailfleet.exceptions import MailfleetError
    from mailfleet.models import MailboxType

    workspace = _uuid(workspace_id, "workspace")
    database = open_database()
    try:
        with database.transaction() as session:
            set_allocation(
                session,
                workspace_id=workspace,
                mailbox_type=MailboxType(mailbox_type.value),
                slots=slots,
                actor=CLI_ACTOR,
            )
    except MailfleetError as error:
        raise _refused(error) from None
    finally:
        database.dispose()
    console.print(f"{mailbox_type.value}: {slots} slots")
