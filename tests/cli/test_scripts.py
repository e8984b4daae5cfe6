"""scripts/install and scripts/test, run on a copy of the checkout whose tools only log their
calls: nothing is installed, and no package manager is asked anything."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

LOGGING_TOOL = """#!/bin/sh
echo "$(basename "$0") $*" >> "{log}"
{body}
"""


def _tool(path: Path, log: Path, body: str = "exit 0") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(LOGGING_TOOL.format(log=log, body=body))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def _checkout(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """A copy of scripts/ and pyproject.toml with a fake .venv, and fakes of the system tools
    scripts/install might call first on PATH."""
    root = tmp_path / "checkout"
    shutil.copytree(REPO / "scripts", root / "scripts")
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    log = tmp_path / "calls.log"
    log.touch()
    for name in ("pip", "ruff", "mypy", "python"):
        _tool(root / ".venv" / "bin" / name, log)
    fakes = tmp_path / "bin"
    for name in ("apt-get", "debconf-set-selections", "useradd"):
        _tool(fakes / name, log)
    env = {**os.environ, "PATH": f"{fakes}:{os.environ['PATH']}"}
    return root, log, env


def _run(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(root / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        timeout=60,
    )


def _pip_installs(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if line.startswith("pip install -q -e")]


def test_serve_after_test_installs_nothing(tmp_path: Path) -> None:
    root, log, env = _checkout(tmp_path)

    assert _run(root, env, "scripts/install", "--with-tests").returncode == 0
    assert _pip_installs(log) == ["pip install -q -e .[test]"]

    # scripts/serve's install: the one with tests satisfies it.
    again = _run(root, env, "scripts/install")
    assert again.returncode == 0, again.stderr
    assert _pip_installs(log) == ["pip install -q -e .[test]"]
    assert again.stdout == ""


def test_test_after_serve_adds_the_test_extras_once(tmp_path: Path) -> None:
    root, log, env = _checkout(tmp_path)

    _run(root, env, "scripts/install")
    _run(root, env, "scripts/install", "--with-tests")
    _run(root, env, "scripts/install", "--with-tests")
    _run(root, env, "scripts/install")

    assert _pip_installs(log) == ["pip install -q -e .", "pip install -q -e .[test]"]


def test_a_changed_pyproject_installs_again(tmp_path: Path) -> None:
    root, log, env = _checkout(tmp_path)
    _run(root, env, "scripts/install", "--with-tests")

    with (root / "pyproject.toml").open("a") as pyproject:
        pyproject.write("\n# a new dependency\n")
    _run(root, env, "scripts/install")

    assert _pip_installs(log) == ["pip install -q -e .[test]", "pip install -q -e ."]


def test_install_says_each_slow_step(tmp_path: Path) -> None:
    root, _, env = _checkout(tmp_path)

    done = _run(root, env, "scripts/install", "--with-tests")

    assert "install: pip install -e '.[test]' into .venv" in done.stdout.splitlines()


def test_scripts_test_prints_its_phases_and_passes_arguments_to_pytest(tmp_path: Path) -> None:
    root, log, env = _checkout(tmp_path)

    done = _run(root, env, "scripts/test", "tests/dns", "-x")

    assert done.returncode == 0, done.stderr
    phases = [line for line in done.stdout.splitlines() if line.startswith("==> ")]
    assert [phase.split()[1] for phase in phases] == ["install", "lint", "types", "tests"]
    calls = log.read_text().splitlines()
    assert calls[-3:] == [
        "ruff check mailfleet tests bench",
        "mypy mailfleet",
        "python -m pytest tests/dns -x",
    ]


def test_scripts_test_stops_with_the_failing_phase_status(tmp_path: Path) -> None:
    root, log, env = _checkout(tmp_path)
    _tool(root / ".venv" / "bin" / "mypy", log, body="exit 3")

    done = _run(root, env, "scripts/test")

    assert done.returncode == 3
    assert "==> types" in done.stdout
    assert "==> tests" not in done.stdout
    assert not any(line.startswith("python -m pytest") for line in log.read_text().splitlines())
