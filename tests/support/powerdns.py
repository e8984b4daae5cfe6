"""A private PowerDNS Authoritative server on loopback, for tests and benchmarks.

Each instance gets its own temporary directory (config, SQLite database, control socket), a free
DNS port and a free API port, and is gone after `stop()`. The config follows
shared/reference/integrations.md 3.1. Run as root, pdns_server stays root: `setuid`/`setgid`
default to empty when the config is our own (the Debian package sets them in /etc/powerdns,
which we do not read), so the directory needs no chown.

Caches are off by default so a test that changes a zone sees the change in the very next query;
benchmarks may turn them back on with `extra_config`.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.servers import LoopbackServer, free_port, stop_process

SCHEMA = Path("/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql")
BACKEND = Path("/usr/lib/x86_64-linux-gnu/pdns/libgsqlite3backend.so")
DEFAULT_SOA = "ns1.@ hostmaster.@ 0 10800 3600 604800 3600"
NO_CACHES = {
    "cache-ttl": "0",
    "query-cache-ttl": "0",
    "negquery-cache-ttl": "0",
    # The zone cache would hide zones written straight into the database (bulk loads).
    "zone-cache-refresh-interval": "0",
}


def absolute(name: str) -> str:
    return name.rstrip(".").lower() + "."


def missing() -> str | None:
    """Why PowerDNS cannot run here, or None when it can."""
    if shutil.which("pdns_server") is None:
        return "pdns_server not found (apt-get install pdns-server pdns-backend-sqlite3)"
    if not SCHEMA.exists():
        return f"{SCHEMA} not found (apt-get install pdns-backend-sqlite3)"
    if not BACKEND.exists() and not list(Path("/usr/lib").glob("*/pdns/libgsqlite3backend.so")):
        return "gsqlite3 backend not found (apt-get install pdns-backend-sqlite3)"
    return None


@dataclass(frozen=True)
class RRsetSpec:
    """One RRset as the PowerDNS API takes it; contents in presentation format."""

    name: str
    type: str
    contents: Sequence[str]
    ttl: int = 3600

    def to_api(self) -> dict[str, Any]:
        return {
            "name": absolute(self.name),
            "type": self.type,
            "ttl": self.ttl,
            "changetype": "REPLACE",
            "records": [{"content": content, "disabled": False} for content in self.contents],
        }


class PowerDNS(LoopbackServer):
    """Start with `with PowerDNS() as pdns:` (or start()/stop()); helpers speak its HTTP API."""

    def __init__(
        self,
        *,
        api_key: str = "testkey",
        extra_config: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
        dns_port: int | None = None,
    ) -> None:
        """`host`/`dns_port` choose where DNS listens (port 53 on some 127.x address needs
        root); the API always listens on 127.0.0.1."""
        self.api_key = api_key
        self.host = host
        self.dns_port = dns_port or free_port()
        self.api_port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="mailfleet-pdns-"))
        self.database = self.root / "pdns.sqlite3"
        self.extra_config = {**NO_CACHES, **(extra_config or {})}
        self._process: subprocess.Popen[bytes] | None = None
        self._client: httpx.Client | None = None

    # --- addresses ---

    @property
    def address(self) -> str:
        """The DNS server as "ip:port", the form settings take."""
        return f"{self.host}:{self.dns_port}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def api(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(
                base_url=f"{self.url}/api/v1/servers/localhost",
                headers={"X-API-Key": self.api_key},
                timeout=30.0,
            )
        return self._client

    # --- lifecycle ---

    def start(self, timeout: float = 20.0) -> PowerDNS:
        reason = missing()
        if reason:
            raise RuntimeError(reason)
        self._create_database()
        (self.root / "pdns.conf").write_text(self._config())
        log = (self.root / "pdns.log").open("wb")
        self._process = subprocess.Popen(
            ["pdns_server", f"--config-dir={self.root}"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        self._wait_ready(timeout)
        return self

    def stop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._process is not None:
            stop_process(self._process)
            self._process = None
        shutil.rmtree(self.root, ignore_errors=True)

    def _create_database(self) -> None:
        with sqlite3.connect(self.database) as connection:
            connection.executescript(SCHEMA.read_text())
        connection.close()

    def _config(self) -> str:
        settings = {
            "launch": "gsqlite3",
            "gsqlite3-database": str(self.database),
            "local-address": self.host,
            "local-port": str(self.dns_port),
            "api": "yes",
            "api-key": self.api_key,
            "webserver": "yes",
            "webserver-address": "127.0.0.1",
            "webserver-port": str(self.api_port),
            "webserver-allow-from": "127.0.0.0/8",
            "socket-dir": str(self.root),
            "daemon": "no",
            "guardian": "no",
            "disable-syslog": "yes",
            # Empty: no security-status DNS query at start (there is no network).
            "security-poll-suffix": "",
            # Without it new zones get the SOA primary a.misconfigured.dns.server.invalid.
            "default-soa-content": DEFAULT_SOA,
            **self.extra_config,
        }
        return "".join(f"{key}={value}\n" for key, value in settings.items())

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        assert self._process is not None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"pdns_server exited with {self._process.returncode}:\n{self.log()}"
                )
            try:
                if self.api.get(f"{self.url}/api/v1/servers/localhost").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        log = self.log()
        self.stop()
        raise RuntimeError(f"pdns_server did not answer on {self.url} within {timeout} s:\n{log}")

    def log(self) -> str:
        path = self.root / "pdns.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # --- API helpers ---

    def create_zone(
        self,
        name: str,
        nameservers: Sequence[str],
        rrsets: Iterable[RRsetSpec] = (),
    ) -> dict[str, Any]:
        body = {
            "name": absolute(name),
            "kind": "Native",
            "nameservers": [absolute(ns) for ns in nameservers],
            "soa_edit_api": "DEFAULT",
            "rrsets": [rrset.to_api() for rrset in rrsets],
        }
        response = self.api.post("/zones", json=body)
        response.raise_for_status()
        return dict(response.json())

    def zone(self, name: str) -> dict[str, Any] | None:
        response = self.api.get(f"/zones/{absolute(name)}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return dict(response.json())

    def zones(self) -> list[str]:
        response = self.api.get("/zones")
        response.raise_for_status()
        return sorted(zone["name"] for zone in response.json())

    def delete_zone(self, name: str) -> None:
        response = self.api.delete(f"/zones/{absolute(name)}")
        if response.status_code != 404:
            response.raise_for_status()

    def set_rrsets(self, zone: str, rrsets: Iterable[RRsetSpec]) -> None:
        self._patch(zone, [rrset.to_api() for rrset in rrsets])

    def delete_rrsets(self, zone: str, keys: Iterable[tuple[str, str]]) -> None:
        self._patch(
            zone,
            [{"name": absolute(n), "type": t, "changetype": "DELETE"} for n, t in keys],
        )

    def delegate(
        self,
        parent: str,
        child: str,
        nameservers: Sequence[str],
        glue: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        """Make `parent` refer `child` to `nameservers` (NS in the parent, optional glue A)."""
        rrsets = [RRsetSpec(child, "NS", [absolute(ns) for ns in nameservers])]
        rrsets += [RRsetSpec(host, "A", list(ips)) for host, ips in (glue or {}).items()]
        self.set_rrsets(parent, rrsets)

    def undelegate(self, parent: str, child: str, glue_hosts: Sequence[str] = ()) -> None:
        self.delete_rrsets(parent, [(child, "NS"), *((host, "A") for host in glue_hosts)])

    def _patch(self, zone: str, rrsets: list[dict[str, Any]]) -> None:
        response = self.api.patch(f"/zones/{absolute(zone)}", json={"rrsets": rrsets})
        response.raise_for_status()

    # --- bulk loading straight into the backend (benchmarks) ---

    def bulk_zones(self, zones: Iterable[str], nameservers: Sequence[str]) -> int:
        """Insert zones with SOA and NS in one transaction; the API does ~100 zones/s."""
        primary = nameservers[0].rstrip(".")
        count = 0
        with sqlite3.connect(self.database) as db:
            for zone in zones:
                name = zone.rstrip(".").lower()
                cursor = db.execute(
                    "INSERT INTO domains (name, type) VALUES (?, 'NATIVE')", (name,)
                )
                soa = f"{primary} hostmaster.{name} 1 10800 3600 604800 3600"
                rows = [(cursor.lastrowid, name, "SOA", soa)]
                rows += [(cursor.lastrowid, name, "NS", ns.rstrip(".")) for ns in nameservers]
                db.executemany(
                    "INSERT INTO records (domain_id, name, type, content, ttl, prio, auth)"
                    " VALUES (?, ?, ?, ?, 3600, 0, 1)",
                    rows,
                )
                count += 1
        db.close()
        return count

    def bulk_delegations(
        self, parent: str, delegations: Iterable[tuple[str, Sequence[str]]]
    ) -> int:
        """Insert NS RRsets for children of an existing `parent` zone in one transaction."""
        parent_name = parent.rstrip(".").lower()
        count = 0
        with sqlite3.connect(self.database) as db:
            row = db.execute("SELECT id FROM domains WHERE name = ?", (parent_name,)).fetchone()
            if row is None:
                raise LookupError(f"zone {parent_name} does not exist")
            rows = []
            for child, nameservers in delegations:
                # auth=0: a delegation point's NS set is not authoritative data (what rectify sets).
                rows += [(row[0], child.rstrip(".").lower(), ns.rstrip(".")) for ns in nameservers]
                count += 1
            db.executemany(
                "INSERT INTO records (domain_id, name, type, content, ttl, prio, auth)"
                " VALUES (?, ?, 'NS', ?, 3600, 0, 0)",
                rows,
            )
        db.close()
        return count
