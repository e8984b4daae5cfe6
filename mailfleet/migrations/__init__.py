"""Alembic migrations: the schema's source of truth (tests build their schema from them)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

HERE = Path(__file__).parent
# The PostgreSQL advisory lock every process takes around its migrations ("mailflt").
MIGRATION_LOCK = 0x6D61696C666C74


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision`. Several processes may start at once (API servers and
    workers): on PostgreSQL they queue on an advisory lock, so one migrates and the others find
    the schema current. SQLite's write lock serialises them already."""
    if engine.dialect.name != "postgresql":
        command.upgrade(alembic_config(engine), revision)
        return
    with engine.connect() as lock:
        lock.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
        try:
            command.upgrade(alembic_config(engine), revision)
        finally:
            lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
            lock.commit()


def check(engine: Engine) -> None:
    """Raise if the models and the migrations disagree (`alembic check`)."""
    command.check(alembic_config(engine))
