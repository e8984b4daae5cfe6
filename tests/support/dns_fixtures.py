"""Session fixtures for DNS servers (PowerDNS parent and child, Redis), shared by every package.

Two PowerDNS servers play the real topology, each started once per session:

- `pdns_parent` hosts a fake `com.` zone. It plays the TLD registry: delegating a customer domain
  means adding an NS RRset for it there (`pdns_parent.delegate(PARENT_ZONE, name, pair)`). `com`
  because domain submission validates names against the public suffix list, so test domains
  are ordinary `<something>.com` names.
- `pdns_child` hosts customer zones; it is the PowerDNS whose API Mailfleet's provider talks to
  and the address both names of the test nameserver pair resolve to.

`dns_overrides` is the Settings keyword arguments that wire Mailfleet to both:
`make_settings(**dns_overrides)`. Servers are shared by the session, so each test uses its own
domain names (`unique_domain`).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.support import powerdns
from tests.support.powerdns import PowerDNS
from tests.support.servers import free_port, stop_process, unavailable

PARENT_ZONE = "com"
# The pair customers are told to delegate to in tests; both resolve to pdns_child. In .test
# (RFC 6761) so they cannot be mistaken for real hosts.
TEST_PAIR = ("ns1.mailfleet.test", "ns2.mailfleet.test")
PARENT_NAMESERVERS = ("a.gtld.test", "b.gtld.test")
API_KEY = "mailfleet-test-key"


def _start_powerdns() -> PowerDNS:
    reason = powerdns.missing()
    if reason:
        unavailable(reason)
    return PowerDNS(api_key=API_KEY).start()


@pytest.fixture(scope="session")
def pdns_parent() -> Iterator[PowerDNS]:
    """PowerDNS serving the fake parent zone `com.` (DNS on pdns_parent.address)."""
    server = _start_powerdns()
    try:
        server.create_zone(PARENT_ZONE, PARENT_NAMESERVERS)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pdns_child() -> Iterator[PowerDNS]:
    """PowerDNS for customer zones; its API (pdns_child.url, API_KEY) is the provider's."""
    server = _start_powerdns()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def dns_overrides(pdns_parent: PowerDNS, pdns_child: PowerDNS) -> dict[str, Any]:
    """Settings keyword arguments pointing Mailfleet at pdns_parent and pdns_child."""
    return {
        "dns_provider": "powerdns",
        "powerdns_api_url": pdns_child.url,
        "powerdns_api_key": API_KEY,
        "powerdns_server_id": "localhost",
        "dns_parent_servers": {PARENT_ZONE: [pdns_parent.address]},
        "dns_nameserver_addresses": {name: [pdns_child.address] for name in TEST_PAIR},
        "nameserver_pairs": [TEST_PAIR],
        # Loopback answers in microseconds; a short timeout keeps failure tests quick.
        "dns_query_timeout": 1.0,
    }


@pytest.fixture
def unique_domain() -> Callable[[str], str]:
    """Fresh `<prefix>-<hex>.com` names, so tests sharing the session servers never collide."""

    def make(prefix: str = "t") -> str:
        return f"{prefix}-{uuid.uuid4().hex[:12]}.{PARENT_ZONE}"

    return make


@contextmanager
def redis_server() -> Iterator[str]:
    """A throwaway redis-server on loopback without persistence; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("redis-server not found (apt-get install redis-server)")
    root = tempfile.mkdtemp(prefix="mailfleet-redis-")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        + ["--dir", root, "--daemonize", "no", "--loglevel", "warning"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_redis(port, process)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop_process(process)
        shutil.rmtree(root, ignore_errors=True)


def _wait_for_redis(port: int, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(64).startswith(b"+PONG"):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"redis-server on port {port} did not answer PING")


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """redis://127.0.0.1:PORT/0 of a real redis-server started for this session."""
    with redis_server() as url:
        yield url
