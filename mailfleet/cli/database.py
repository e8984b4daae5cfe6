"""The database a command works on: said on every run, and never made by accident.

Only `serve`, `migrate` and `bootstrap` may create a database. Every other command refuses to
run against one that is missing or has no Mailfleet tables: run from the wrong folder, the
default `./data` would otherwise be a fresh, empty database that knows no user.

Every command that opens the database (the worker too) publishes its access changes to the
other processes, as `serve` does.

Top-level imports stay at typer and rich (the CLI answers `--help` without the web stack).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.console import Console

if TYPE_CHECKING:
    from mailfleet.config import Settings
    from mailfleet.db import Database

# Notes and errors go to stderr so a command's stdout stays its result (a key, a table).
notes = Console(stderr=True, soft_wrap=True)

WHERE = (
    "set MAILFLEET_DATA_DIR to the data directory `mailfleet serve` uses (default: ./data in "
    "the directory it started in), or MAILFLEET_DATABASE_URL"
)


def fail(message: str) -> typer.Exit:
    """Print one red line and return the exit to raise (`raise fail(...)`)."""
    notes.print(f"[red]Error:[/] {message}", markup=True, highlight=False)
    return typer.Exit(1)


def load_settings() -> Settings:
    from mailfleet.config import Settings

    return Settings()


def open_database(settings: Settings | None = None, *, create: bool = False) -> Database:
    """A migrated database; with `create=False`, only one that exists with Mailfleet's tables.

    Prints which database it is (one dim line, the password hidden)."""
    from sqlalchemy.exc import SQLAlchemyError

    from mailfleet import migrations
    from mailfleet.background import database_label
    from mailfleet.db import Database, sqlite_files

    settings = settings or load_settings()
    label = database_label(settings)
    notes.print(f"[dim]Database: {label}[/]", markup=True, highlight=False)
    files = sqlite_files(settings.resolved_database_url) if settings.is_sqlite else []
    # Checked before an engine exists: making one creates the data directory and the file.
    if not create and files and not files[0].exists():
        raise fail(f"no database at {files[0]}: {WHERE}.")
    database = Database(settings)
    try:
        if not create and not _has_schema(database):
            database.dispose()
            raise fail(
                f"{label} has no Mailfleet tables: run `mailfleet migrate` to create them, "
                f"or {WHERE}."
            )
        migrations.upgrade(database.engine)
    except SQLAlchemyError as error:
        database.dispose()
        raise fail(f"cannot use {label}: {_first_line(error)}") from None
    _share_access_changes(settings)
    return database


def _share_access_changes(settings: Settings) -> None:
    """Access changes a command or a job commits (a revoked key, a removed member) reach the
    running servers' auth caches as the servers' own do: through the shared state when there is
    one (auth.cache), instead of when the servers' cached answers expire."""
    from mailfleet.auth.cache import share_invalidations

    share_invalidations(settings)


def _has_schema(database: Database) -> bool:
    from sqlalchemy import inspect

    # Alembic's own table: present in every database a migration has run on.
    return inspect(database.engine).has_table("alembic_version")


def _first_line(error: Exception) -> str:
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__
