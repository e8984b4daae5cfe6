"""Run `mailfleet` commands in this process (typer's CliRunner) against a chosen database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from mailfleet.cli import app
from mailfleet.db import Database
from tests.conftest import TEST_KEY

RunCli = Callable[..., Result]


def _cleared(env: dict[str, str | None]) -> dict[str, str | None]:
    """The environment of one command: the caller's MAILFLEET_* settings never leak in."""
    import os

    cleared: dict[str, str | None] = {
        name: None for name in os.environ if name.startswith("MAILFLEET_")
    }
    return {**cleared, "MAILFLEET_ENCRYPTION_KEYS": TEST_KEY, **env}


@pytest.fixture
def run_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RunCli:
    """`run_cli("key", "create", EMAIL, env={...})` with no database set: the default `./data`
    of a fresh current directory."""
    monkeypatch.chdir(tmp_path)  # no .env read from the checkout, ./data is the test's own

    def run(*args: str, env: dict[str, str | None] | None = None) -> Result:
        return CliRunner().invoke(app, list(args), env=_cleared(env or {}))

    return run


@pytest.fixture
def cli(db: Database, run_cli: RunCli, tmp_path: Path) -> RunCli:
    """Commands against the test database (SQLite and PostgreSQL, migrated)."""
    database_env = {
        "MAILFLEET_DATABASE_URL": db.engine.url.render_as_string(hide_password=False),
        "MAILFLEET_DATA_DIR": str(tmp_path / "data"),
    }

    def run(*args: str, env: dict[str, str | None] | None = None) -> Result:
        return run_cli(*args, env={**database_env, **(env or {})})

    return run
