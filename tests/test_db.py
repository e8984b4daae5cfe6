"""The SQLite database and the files beside it are readable by the service's user only."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from mailfleet.db import Database, sqlite_files
from tests.conftest import base_settings


@pytest.fixture
def usual_umask() -> Iterator[None]:
    # The common default, under which a file SQLite creates itself would be 0644.
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def write_something(database: Database) -> None:
    with database.transaction() as session:
        session.execute(text("CREATE TABLE IF NOT EXISTS probe (x INTEGER)"))
        session.execute(text("INSERT INTO probe VALUES (1)"))


@pytest.mark.usefixtures("usual_umask")
def test_a_new_database_and_its_wal_and_shm_files_are_0600(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh" / "data"
    path = data_dir / "mailfleet.db"
    database = Database(base_settings(data_dir, f"sqlite:///{path}"))
    try:
        write_something(database)
        # While a connection is open, WAL mode keeps both side files.
        with database.engine.connect() as connection:
            connection.execute(text("SELECT count(*) FROM probe"))
            files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
            assert all(f.exists() for f in files)
            assert {f.name: oct(mode(f)) for f in files} == {f.name: "0o600" for f in files}
    finally:
        database.dispose()
    # The data directory Mailfleet made is its user's alone too.
    assert oct(mode(data_dir)) == "0o700"


@pytest.mark.usefixtures("usual_umask")
def test_files_made_before_are_restricted_at_the_next_connection(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        name.touch()
        name.chmod(0o644)
    database = Database(base_settings(tmp_path, f"sqlite:///{path}"))
    try:
        write_something(database)
        with database.engine.connect():
            assert oct(mode(path)) == "0o600"
            assert oct(mode(Path(f"{path}-wal"))) == "0o600"
            assert oct(mode(Path(f"{path}-shm"))) == "0o600"
    finally:
        database.dispose()


def test_an_existing_data_directory_keeps_its_mode(tmp_path: Path) -> None:
    # The operator chose it (a shared group directory, say); Mailfleet changes only its files.
    tmp_path.chmod(0o750)
    database = Database(base_settings(tmp_path, f"sqlite:///{tmp_path / 'x.db'}"))
    try:
        write_something(database)
    finally:
        database.dispose()
    assert oct(mode(tmp_path)) == "0o750"
    assert oct(mode(tmp_path / "x.db")) == "0o600"


def test_in_memory_databases_have_no_files() -> None:
    assert sqlite_files("sqlite://") == []
    assert sqlite_files("sqlite:///:memory:") == []
    assert [p.name for p in sqlite_files("sqlite:////srv/data/m.db")] == [
        "m.db",
        "m.db-wal",
        "m.db-shm",
        "m.db-journal",
    ]


@pytest.mark.usefixtures("usual_umask")
def test_the_job_queue_and_the_key_file_keep_the_data_directory_private(tmp_path: Path) -> None:
    """Whichever file is made first (key, job queue, database), the directory is 0700 and the
    job queue's database is 0600 like the main one."""
    from mailfleet.jobs.queue import make_huey
    from mailfleet.kit.crypto import load_or_create_key_file

    key_first = tmp_path / "key-first"
    load_or_create_key_file(key_first / "secret.key")
    assert oct(mode(key_first)) == "0o700"

    queue_first = tmp_path / "queue-first"
    settings = base_settings(queue_first, f"sqlite:///{queue_first / 'mailfleet.db'}")
    make_huey(settings.model_copy(update={"job_queue": "sqlite"}))
    assert oct(mode(queue_first)) == "0o700"
    assert oct(mode(queue_first / "jobs.db")) == "0o600"
