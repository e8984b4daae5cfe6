"""Test setup: every test that touches the database runs on SQLite and on PostgreSQL.

The schema is built by the Alembic migrations (never `create_all`), once per backend; each test
then starts from empty tables. The HTTP client goes through the real app.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from mailfleet import migrations
from mailfleet.app import create_app
from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.kit import clock
from mailfleet.models import Base
from tests.support.refuser import loopback_resolver
from tests.support.servers import postgres_server

warnings.filterwarnings("ignore", message=".*httpx.*", category=DeprecationWarning)

from fastapi.testclient import TestClient  # noqa: E402

pytest_plugins = [
    "tests.support.dns_fixtures",
    "tests.support.mail_fixtures",
    "tests.support.workers",
    # Fails the run when a route answers an error code its OpenAPI responses do not list.
    "tests.support.problems",
]

TEST_KEY = Fernet.generate_key().decode()


def base_settings(tmp: Path, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp,
        "database_url": database_url,
        "encryption_keys": [TEST_KEY],
        "rate_limit_enabled": False,
        # Tests drive jobs and DNS servers explicitly; the app starts neither on its own.
        "dns_server_enabled": False,
        "worker_in_process": False,
        "job_queue": "memory",
        # An app per test: building every route at start would cost each ~0.7 s.
        "warm_routes": False,
        # Never the system's resolvers: a name Mailfleet resolves is refused on loopback, so no
        # DNS query leaves the machine (tests needing answers point at their own servers).
        "dns_resolvers": [loopback_resolver()],
        # The suite's domains are `*.test` (RFC 2606), a TLD outside the public suffix list.
        "local_tlds": ["test"],
        # The RDAP pre-filter's shipped bootstrap points at the real registries: tests that
        # want it use tests/fakes/rdap.py's server and their own bootstrap file.
        "rdap_enabled": False,
        # Every sweep would ask the DNSBL zones about each ACTIVE domain: tests/reputation
        # turns the checks on against its own loopback server.
        "dnsbl_enabled": False,
    }
    values.update(overrides)
    return Settings(**values)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A `postgres_only` test runs on the PostgreSQL backend only: its SQLite parameter is
    deselected (nothing to observe there), never reported as a skip."""
    kept, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_sqlite = callspec is not None and callspec.params.get("backend") == "sqlite"
        if on_sqlite and item.get_closest_marker("postgres_only") is not None:
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def migrated_database(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Database]:
    tmp = tmp_path_factory.mktemp(f"db-{backend}")
    if backend == "sqlite":
        url = f"sqlite:///{tmp / 'test.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    database = Database(base_settings(tmp, url))
    with database.engine.begin() as connection:
        if backend == "postgresql":
            connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    migrations.upgrade(database.engine)
    yield database
    database.dispose()


def _empty_tables(database: Database) -> None:
    tables = list(reversed(Base.metadata.sorted_tables))
    with database.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            names = ", ".join(table.name for table in tables)
            connection.execute(text(f"TRUNCATE {names} CASCADE"))
        else:
            for table in tables:
                connection.execute(table.delete())


@pytest.fixture
def db(migrated_database: Database) -> Iterator[Database]:
    yield migrated_database
    clock.reset()
    _empty_tables(migrated_database)


@pytest.fixture
def make_settings(db: Database, tmp_path: Path) -> Callable[..., Settings]:
    def build(**overrides: Any) -> Settings:
        return base_settings(
            tmp_path, db.engine.url.render_as_string(hide_password=False), **overrides
        )

    return build


@pytest.fixture
def make_client(
    db: Database, make_settings: Callable[..., Settings]
) -> Iterator[Callable[..., TestClient]]:
    """Build a client over an app with some settings changed (the database stays the same)."""
    clients: list[TestClient] = []

    def build(**overrides: Any) -> TestClient:
        client = TestClient(create_app(make_settings(**overrides), db))
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


@pytest.fixture
def off(make_client: Callable[..., TestClient]) -> TestClient:
    """A client with the 24-hour rule off, so each test sees only the rule it is about."""
    return make_client(recent_creation_rule="off")
