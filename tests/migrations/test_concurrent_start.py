"""Several processes starting at once on one PostgreSQL database all come up migrated."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, make_url, text

SCRIPT = """
import sys
from sqlalchemy import create_engine
from mailfleet import migrations
migrations.upgrade(create_engine(sys.argv[1]))
"""


@pytest.fixture
def fresh_database(postgres_url: str) -> Iterator[str]:
    name = f"race_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
        admin.dispose()


def test_processes_migrating_one_empty_database_at_once_all_succeed(fresh_database: str) -> None:
    starts = [
        subprocess.Popen(
            [sys.executable, "-c", SCRIPT, fresh_database],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(4)
    ]
    results = [(p.wait(120), p.stderr.read().decode() if p.stderr else "") for p in starts]
    assert [code for code, _ in results] == [0, 0, 0, 0], [err[-2000:] for _, err in results]
    engine = create_engine(fresh_database)
    with engine.connect() as connection:
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    engine.dispose()
    assert len(versions) == 1
