"""`mailfleet serve` as a user runs it, in a subprocess: a taken port stops it with one line,
and a start says what it runs with."""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.dns.server import BuiltinDnsServer, DnsBindError, bind_error
from mailfleet.kit.processes import free_port, free_udp_and_tcp_port, stop_process
from tests.support.refuser import loopback_resolver

REPO = Path(__file__).resolve().parents[2]


def _env(data_dir: Path, **settings: str) -> dict[str, str]:
    outer = {k: v for k, v in os.environ.items() if not k.startswith("MAILFLEET_")}
    return {
        **outer,
        "PYTHONPATH": str(REPO),
        # Wide enough that rich prints every value of the start-up table on one line.
        "COLUMNS": "250",
        "MAILFLEET_DATA_DIR": str(data_dir),
        "MAILFLEET_DNS_RESOLVERS": loopback_resolver(),
        **settings,
    }


def _serve(
    tmp_path: Path, *args: str, timeout: float = 60, **settings: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailfleet", "serve", *args],
        capture_output=True,
        text=True,
        env=_env(tmp_path / "data", **settings),
        cwd=tmp_path,
        timeout=timeout,
    )


def _lines(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]


@contextmanager
def _held(kind: socket.SocketKind, port: int) -> Iterator[None]:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", port))
        if kind == socket.SOCK_STREAM:
            sock.listen()
        yield


@pytest.mark.parametrize("kind", [socket.SOCK_DGRAM, socket.SOCK_STREAM], ids=["udp", "tcp"])
def test_a_taken_dns_port_stops_serve_with_one_line(
    kind: socket.SocketKind, tmp_path: Path
) -> None:
    dns_port = free_udp_and_tcp_port()
    with _held(kind, dns_port):
        done = _serve(tmp_path, "--port", str(free_port()), MAILFLEET_DNS_SERVER_PORT=str(dns_port))

    assert done.returncode != 0
    lines = _lines(done)
    assert len(lines) == 1, lines
    assert f"port {dns_port}" in lines[0]
    assert "MAILFLEET_DNS_SERVER_PORT" in lines[0]
    assert "MAILFLEET_DNS_SERVER_ENABLED=false" in lines[0]
    assert "Traceback" not in done.stderr
    # It stopped before making a database.
    assert not (tmp_path / "data").exists()


def test_a_taken_api_port_stops_serve_with_one_line(tmp_path: Path) -> None:
    api_port = free_port()
    with _held(socket.SOCK_STREAM, api_port):
        done = _serve(
            tmp_path,
            "--port",
            str(api_port),
            MAILFLEET_DNS_SERVER_PORT=str(free_udp_and_tcp_port()),
        )

    assert done.returncode != 0
    lines = _lines(done)
    assert len(lines) == 1, lines
    assert f"port {api_port}" in lines[0]
    assert "--port" in lines[0]
    assert "MAILFLEET_PORT" in lines[0]
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "data").exists()


def test_serve_says_what_it_runs_with_then_serves(tmp_path: Path) -> None:
    api_port, dns_port = free_port(), free_udp_and_tcp_port()
    data_dir = tmp_path / "data"
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "mailfleet", "serve", "--port", str(api_port)],
            env=_env(
                data_dir,
                MAILFLEET_DNS_SERVER_PORT=str(dns_port),
                MAILFLEET_BACKEND_SMTP="smtp",
                MAILFLEET_LOG_LEVEL="WARNING",
            ),
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_for_health(process, f"http://127.0.0.1:{api_port}")
        finally:
            stop_process(process)
    output = log.read_text()

    rows = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in _table(output)}
    assert rows["API"] == f"http://127.0.0.1:{api_port}"
    assert rows["Database"] == f"SQLite {(data_dir / 'mailfleet.db').resolve()}"
    assert rows["DNS provider"] == "builtin"
    assert rows["DNS server"] == f"127.0.0.1 port {dns_port} (UDP, TCP)"
    assert rows["Job queue"].startswith(f"sqlite ({(data_dir / 'jobs.db').resolve()})")
    assert "worker in this process" in rows["Job queue"]
    assert rows["Mailboxes SMTP"].startswith("smtp")
    assert rows["Mailboxes GOOGLE"].startswith("manual")
    assert "API key (shown once)" in output
    assert "Traceback" not in output


def _table(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.count("│") == 3]


def _wait_for_health(process: subprocess.Popen[bytes], base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "mailfleet serve exited"
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("mailfleet serve never answered /health")


def test_a_port_that_needs_root_says_so() -> None:
    error = bind_error("0.0.0.0", 53, "UDP", OSError(errno.EACCES, "Permission denied"))

    assert str(error) == (
        "DNS server: UDP port 53 on 0.0.0.0 needs root or CAP_NET_BIND_SERVICE; set "
        "MAILFLEET_DNS_SERVER_PORT (or MAILFLEET_DNS_SERVER_HOST) to another, or "
        "MAILFLEET_DNS_SERVER_ENABLED=false to run none"
    )


def test_the_dns_server_itself_reports_a_taken_port_in_one_line(db: Database) -> None:
    port = free_udp_and_tcp_port()
    settings = Settings(dns_server_host="127.0.0.1", dns_server_port=port)
    with _held(socket.SOCK_DGRAM, port), pytest.raises(DnsBindError) as raised:
        BuiltinDnsServer(settings, db).start()

    assert str(raised.value).startswith(f"DNS server: UDP port {port} on 127.0.0.1 is in use;")
    assert "\n" not in str(raised.value)
