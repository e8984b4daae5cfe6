"""Shared bench plumbing: a fresh data directory, a migrated database, a real server process."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from mailfleet import migrations
from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.kit.processes import free_port, free_udp_and_tcp_port, stop_process
from tests.factories import Caller, make_tenant
from tests.support.refuser import loopback_resolver


@dataclass
class Env:
    settings: Settings
    database: Database
    env: dict[str, str]


@contextmanager
def fresh_environment(**extra: str) -> Iterator[Env]:
    data_dir = Path(tempfile.mkdtemp(prefix="mailfleet-bench-"))
    env = {
        "MAILFLEET_DATA_DIR": str(data_dir),
        "MAILFLEET_RATE_LIMIT_ENABLED": "false",
        "MAILFLEET_LOG_LEVEL": "WARNING",
        # No DNS query leaves the machine: names are resolved by a refusing loopback resolver.
        "MAILFLEET_DNS_RESOLVERS": loopback_resolver(),
        # The blacklist sweep would start on every domain a bench inserts (thousands, all new,
        # each check a commit that empties the page cache): a backlog a deployment works off
        # once, measured by bench.blacklist, not by the benches of other paths.
        "MAILFLEET_DNSBL_ENABLED": "false",
        **extra,
    }
    if os.environ.get("MAILFLEET_BENCH_DATABASE_URL"):
        env["MAILFLEET_DATABASE_URL"] = os.environ["MAILFLEET_BENCH_DATABASE_URL"]
    os.environ.update(env)
    settings = Settings()
    database = Database(settings)
    migrations.upgrade(database.engine)
    try:
        yield Env(settings, database, env)
    finally:
        database.dispose()
        shutil.rmtree(data_dir, ignore_errors=True)


def tenant(environment: Env) -> Caller:
    return make_tenant(environment.database)


@contextmanager
def server(environment: Env, **settings: str) -> Iterator[str]:
    """The real app under uvicorn in its own process, so the client does not share its GIL.

    Every port it listens on is a free one picked here (the API, and the builtin DNS server
    its lifespan starts): a bench runs beside a `mailfleet serve` or another bench. `settings`
    are MAILFLEET_* variables for this server only."""
    port = free_port()
    listens = {
        "MAILFLEET_DNS_SERVER_HOST": "127.0.0.1",
        "MAILFLEET_DNS_SERVER_PORT": str(free_udp_and_tcp_port()),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "mailfleet.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env={**os.environ, **environment.env, **listens, **settings},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for_health(process, base)
        yield base
    finally:
        # Terminate, wait, and kill if it has not stopped within 10 s: never left running.
        stop_process(process)


def _wait_for_health(process: subprocess.Popen[bytes], base: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"server at {base} did not answer /health within {timeout:.0f} s")


def timed(function: object, *args: object, repeat: int = 1) -> float:
    """Best wall time of `repeat` runs, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        function(*args)  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    return best


def median(values: list[float]) -> float:
    return statistics.median(values)
