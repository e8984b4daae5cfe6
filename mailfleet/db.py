"""Engines and sessions for SQLite and PostgreSQL.

Services never commit: the request (see `auth.dependencies`) or the job owns the transaction.

On SQLite, a transaction that will write starts with BEGIN IMMEDIATE, which takes the write lock
up front. Check-then-insert rules (per-domain limits, quotas) are then serialised by SQLite
itself, the way `SELECT ... FOR UPDATE` serialises them on PostgreSQL.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from mailfleet.config import Settings

IMMEDIATE = "mailfleet_immediate"
AFTER_COMMIT = "mailfleet_after_commit"

# Receives (task name, arguments) for every job a committed transaction asked for.
Dispatcher = Callable[[str, tuple[Any, ...]], None]


def enqueue_after_commit(session: Session, task: str, *args: Any) -> None:
    """Run `task(*args)` as a job once this session commits; a rollback forgets it.

    Jobs reference rows by id, so enqueueing before the commit could hand a worker a row it
    cannot see yet (or one that never comes to exist).
    """
    session.info.setdefault(AFTER_COMMIT, []).append((task, args))


def insert_ignoring_duplicates(
    session: Session, model: type[Any], rows: list[dict[str, Any]], *, unique: list[str]
) -> None:
    """Insert `rows`, skipping any that would break the unique key `unique`: a row a concurrent
    transaction inserted first (committed or not; PostgreSQL waits for its outcome) stands."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        statement: Any = postgresql.insert(model).on_conflict_do_nothing(index_elements=unique)
    elif dialect == "sqlite":
        statement = sqlite.insert(model).on_conflict_do_nothing(index_elements=unique)
    else:
        raise NotImplementedError(f"no insert-or-ignore for {dialect}")
    session.execute(statement, rows)


# The database holds customer data and encrypted credentials: only the service's own user may
# read it, as with secret.key.
PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
# The files SQLite keeps beside the database in WAL mode.
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def make_data_dir(settings: Settings) -> Path:
    """The data directory, made 0700 if it does not exist yet (only the leaf Mailfleet creates
    gets that mode; an existing directory keeps its own)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    return settings.data_dir


def sqlite_files(url: str) -> list[Path]:
    """The database file of a SQLite URL and the WAL, shared-memory and journal files SQLite
    keeps next to it; none for an in-memory database."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return []
    path = Path(database)
    return [path, *(path.with_name(path.name + suffix) for suffix in SQLITE_SIDE_FILES)]


def create_private_file(path: Path) -> None:
    """Create the database file 0600 before SQLite does (it would use the umask, often 0644);
    SQLite gives its WAL and shared-memory files the database file's permissions."""
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))


def _restrict(paths: list[Path]) -> None:
    """Take group and other access away from those files that exist: a database made before
    this rule, or side files made by another program, are 0600 from the next connection on."""
    for path in paths:
        try:
            mode = path.stat().st_mode & 0o777
            if mode & 0o077:
                path.chmod(mode & 0o700)
        except (FileNotFoundError, PermissionError):
            # Gone, or not ours to change (another user's file): SQLite says if it cares.
            continue


def make_engine(settings: Settings) -> Engine:
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        make_data_dir(settings)
        files = sqlite_files(url)
        if files:
            files[0].parent.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
            create_private_file(files[0])
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": settings.sqlite_busy_timeout},
            pool_size=settings.database_pool_size,
            max_overflow=40,
        )
        _configure_sqlite(engine, settings, files)
        return engine
    return create_engine(
        url,
        pool_size=settings.database_pool_size,
        max_overflow=40,
        pool_pre_ping=True,
    )


def _configure_sqlite(engine: Engine, settings: Settings, files: list[Path]) -> None:
    busy_ms = int(settings.sqlite_busy_timeout * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite so BEGIN is ours to emit.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.close()
        # Switching to WAL above made the -wal and -shm files if they were missing.
        _restrict(files)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get(IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Database:
    """One engine and the two session factories the app, jobs and the CLI share."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = make_engine(settings)
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(
            self.engine.execution_options(**{IMMEDIATE: True}), expire_on_commit=False
        )
        # Set by whoever runs jobs (the app or a worker); without one, jobs wait for the sweep.
        self.dispatch: Dispatcher | None = None
        for factory in (self._read, self._write):
            event.listen(factory, "after_commit", self._after_commit)
            event.listen(factory, "after_soft_rollback", self._forget_jobs)

    def _after_commit(self, session: Session) -> None:
        pending = session.info.pop(AFTER_COMMIT, [])
        if self.dispatch is not None:
            for task, args in pending:
                self.dispatch(task, args)

    @staticmethod
    def _forget_jobs(session: Session, _previous: Any) -> None:
        session.info.pop(AFTER_COMMIT, None)

    def session(self, *, write: bool) -> Session:
        return (self._write if write else self._read)()

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Session]:
        """A unit of work: commit on success, roll back on any exception."""
        with self.session(write=write) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        self.engine.dispose()
