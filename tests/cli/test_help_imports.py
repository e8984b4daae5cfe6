"""`mailfleet --help` (and each command's help) answers without importing the web stack: the
3.4 s it took was FastAPI, SQLAlchemy and uvicorn loading for nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("fastapi", "sqlalchemy", "uvicorn", "starlette", "alembic", "pydantic_settings")


def _imported(args: list[str], tmp_path: Path) -> set[str]:
    """Top-level packages `python -m mailfleet ARGS` imported, from its -X importtime trace."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "100"}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "mailfleet", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Usage:" in done.stdout
    modules = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            modules.add(name.split(".")[0])
    assert "typer" in modules  # the trace was read
    return modules


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["serve", "--help"],
        ["worker", "--help"],
        ["key", "--help"],
        ["key", "create", "--help"],
        ["allocation", "set", "--help"],
        ["user", "list", "--help"],
        ["demo", "--help"],
    ],
    ids=" ".join,
)
def test_help_does_not_import_the_web_stack(args: list[str], tmp_path: Path) -> None:
    heavy = _imported(args, tmp_path) & set(HEAVY)
    assert not heavy, f"`mailfleet {' '.join(args)}` imported {sorted(heavy)}"


def test_worker_help_names_the_queues_the_code_has(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mailfleet", "worker", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"},
        cwd=tmp_path,
        timeout=60,
    )
    text = done.stdout
    assert "PostgreSQL" not in text
    assert "sqlite" in text
    assert "redis" in text
