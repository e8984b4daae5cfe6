"""`mailfleet demo` end to end: the real pipeline on one machine, and nothing leaves it.

The demo runs in this process (its API under uvicorn in a thread, the DNS server and the
worker in theirs), so every socket it opens is seen here: the test records each destination
and each name looked up, and fails on anything that is not loopback.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from mailfleet.demo import mailserver
from mailfleet.demo.cli import run_demo
from mailfleet.demo.pipeline import CSV_COLUMNS, DemoReport
from mailfleet.demo.stack import MARKER, DemoError, prepare_data_dir
from tests.support.servers import unavailable

LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def _host(address: Any) -> str | None:
    if isinstance(address, tuple) and address and isinstance(address[0], str):
        return address[0]
    return None


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return host.lower() in LOCAL_NAMES


class Destinations:
    """Every address the process sends to or connects to, and every name it resolves."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self._lock = threading.Lock()

    def add(self, host: str | None) -> None:
        if host is not None:
            with self._lock:
                self.seen.append(host)

    @property
    def outside(self) -> list[str]:
        return sorted({host for host in self.seen if not _is_loopback(host)})


@pytest.fixture
def destinations(monkeypatch: pytest.MonkeyPatch) -> Iterator[Destinations]:
    record = Destinations()
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex
    original_sendto = socket.socket.sendto
    original_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        record.add(_host(address))
        original_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        record.add(_host(address))
        return original_connect_ex(self, address)

    def sendto(self: socket.socket, data: bytes, *args: Any) -> int:
        record.add(_host(args[-1]))
        return original_sendto(self, data, *args)  # type: ignore[arg-type]

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str):
            record.add(host)
        return original_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket.socket, "sendto", sendto)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return record


def _listening(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, int(port))) == 0


def test_demo_walks_the_whole_pipeline_on_loopback(
    tmp_path: Path, destinations: Destinations
) -> None:
    reason = mailserver.missing()
    if reason:
        unavailable(reason)
    out = io.StringIO()
    data_dir = tmp_path / "demo"
    threads_before = set(threading.enumerate())

    report = run_demo(
        data_dir, domains=2, mailboxes=2, timeout=90, console=Console(file=out, width=200)
    )

    _assert_domains(report)
    _assert_mailboxes(report)
    _assert_csv(report)
    printed = out.getvalue()
    assert "all stages passed" in printed
    assert "API key: " in printed
    assert "curl -H 'Authorization: Bearer " in printed
    env = (data_dir / "demo.env").read_text()
    assert "MAILFLEET_LOCAL_TLDS='test'" in env
    # Nothing was asked of the world: every destination and every name was loopback.
    assert destinations.seen, "the recorder saw no traffic at all"
    assert destinations.outside == []
    # And nothing is left running: API and DNS ports closed, no thread of the demo's alive.
    api = next(line for line in printed.splitlines() if line.startswith("API http"))
    api_address = api.split()[1].removeprefix("http://").rstrip(",")
    dns_address = api.split()[3]
    assert not _listening(api_address)
    assert not _listening(dns_address)
    leftover = [t for t in set(threading.enumerate()) - threads_before if t.is_alive()]
    assert [t.name for t in leftover if not t.daemon] == []


def _assert_domains(report: DemoReport) -> None:
    assert len(report.domains) == 2
    for domain in report.domains:
        assert domain.name.endswith(".test")
        assert domain.status == "ACTIVE"
        # The real check: the .test parent (Mailfleet's own server) refers to the pair.
        assert domain.delegated, domain.delegation_reason
        assert domain.parents_asked
        assert all(_is_loopback(p.split(":")[0]) for p in domain.parents_asked)
        assert domain.nameservers == ["ns1.mailfleet.test", "ns2.mailfleet.test"]
        assert domain.records_healthy
        assert domain.records_checked >= 3  # MX, SPF, DKIM, DMARC at least


def _assert_mailboxes(report: DemoReport) -> None:
    assert len(report.mailboxes) == 4
    assert len({m.address for m in report.mailboxes}) == 4
    for mailbox in report.mailboxes:
        assert mailbox.status == "ACTIVE"
        assert mailbox.imap_login
        assert mailbox.smtp_sent
        assert mailbox.received
    assert report.ok


def _assert_csv(report: DemoReport) -> None:
    assert report.csv_path is not None
    assert report.csv_path.stat().st_mode & 0o777 == 0o600
    with report.csv_path.open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0]) == CSV_COLUMNS
    by_email = {row["email"]: row for row in rows}
    assert set(by_email) == {m.address for m in report.mailboxes}
    for mailbox in report.mailboxes:
        row = by_email[mailbox.address]
        assert row["password"] == mailbox.credentials["password"]
        assert row["imap_port"] == str(mailbox.credentials["imap_port"])
        assert row["smtp_port"] == str(mailbox.credentials["smtp_port"])


def test_demo_refuses_a_data_dir_it_did_not_make(tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(DemoError, match="not made by `mailfleet demo`"):
        prepare_data_dir(precious)
    assert (precious / "notes.txt").read_text() == "keep me"


def test_demo_wipes_its_own_previous_run(tmp_path: Path) -> None:
    previous = tmp_path / "demo"
    prepare_data_dir(previous)
    (previous / "mailfleet.db").write_text("old run")
    prepare_data_dir(previous)
    assert sorted(p.name for p in previous.iterdir()) == [MARKER]
    assert previous.stat().st_mode & 0o777 == 0o700
