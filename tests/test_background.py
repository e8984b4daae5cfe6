"""The embedded default: `mailfleet serve` runs the builtin DNS server and the job worker itself."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import dns.flags
import dns.message
import dns.query
from fastapi.testclient import TestClient
from sqlalchemy import select

from mailfleet.app import create_app
from mailfleet.background import startup_summary
from mailfleet.config import Settings
from mailfleet.db import Database
from mailfleet.models import Domain, DomainStatus
from tests.factories import make_tenant
from tests.support.servers import free_port


def _status(db: Database, name: str) -> DomainStatus | None:
    with db.transaction(write=False) as session:
        return session.scalar(select(Domain.status).where(Domain.name == name))


def test_a_submitted_domain_gets_a_zone_on_the_builtin_server_without_help(
    db: Database, make_settings: Callable[..., Settings]
) -> None:
    port = free_port()
    settings = make_settings(
        dns_provider="builtin",
        dns_server_enabled=True,
        dns_server_port=port,
        worker_in_process=True,
        job_queue="sqlite",
        sweep_interval=1,
    )
    name = "embedded-default.com"
    # Entering the client runs the app's lifespan, as uvicorn does for `mailfleet serve`.
    with TestClient(create_app(settings, db)) as client:
        caller = make_tenant(db)
        response = client.post("/v1/domains", json={"domains": [name]}, headers=caller.headers)
        assert response.status_code == 201, response.text

        deadline = time.monotonic() + 20
        while _status(db, name) != DomainStatus.PENDING_NS and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _status(db, name) == DomainStatus.PENDING_NS

        query = dns.message.make_query(name, "NS")
        query.flags &= ~dns.flags.RD
        answer = dns.query.udp(query, "127.0.0.1", port=port, timeout=2)
        assert answer.flags & dns.flags.AA
        served = {rdata.target.to_text() for rrset in answer.answer for rdata in rrset}
        assert served == {"ns1.mailfleet.local.", "ns2.mailfleet.local."}

    # Shutting the app down stops the DNS server with it.
    try:
        dns.query.udp(query, "127.0.0.1", port=port, timeout=0.5)
        raise AssertionError("the DNS server still answers after shutdown")
    except dns.exception.Timeout:
        pass


# --- what `mailfleet serve` says at start ------------------------------------------------------


def test_the_start_up_summary_names_every_piece_in_use(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        dns_server_port=5399,
        backend_smtp="smtp",
        job_queue="sqlite",
        worker_in_process=True,
        worker_threads=3,
    )

    rows = dict(startup_summary(settings, api="http://127.0.0.1:9000"))

    assert rows["API"] == "http://127.0.0.1:9000"
    assert rows["Database"] == f"SQLite {(tmp_path / 'mailfleet.db').resolve()}"
    assert rows["DNS provider"] == "builtin"
    assert rows["DNS server"] == "127.0.0.1 port 5399 (UDP, TCP)"
    assert rows["Job queue"] == (
        f"sqlite ({tmp_path.resolve() / 'jobs.db'}), worker in this process (3 threads)"
    )
    assert rows["Mailboxes SMTP"].startswith("smtp")
    for kind in ("GOOGLE", "MICROSOFT", "SMTP_DEDICATED"):
        assert rows[f"Mailboxes {kind}"].startswith("manual")


def test_the_start_up_summary_hides_passwords_and_says_what_does_not_run(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url="postgresql+psycopg://mailfleet:db-s3cret@db.internal:5432/mailfleet",
        job_queue="redis",
        redis_url="redis://:redis-s3cret@cache.internal:6379/0",
        worker_in_process=False,
        dns_provider="powerdns",
    )

    rows = dict(startup_summary(settings, api="http://127.0.0.1:8000"))
    text = repr(rows)

    assert "s3cret" not in text
    assert rows["Database"] == "postgresql+psycopg://mailfleet:***@db.internal:5432/mailfleet"
    assert rows["Job queue"].startswith("redis (redis://:***@cache.internal:6379/0)")
    assert "mailfleet worker" in rows["Job queue"]
    assert "powerdns" in rows["DNS server"]
    off = dict(startup_summary(Settings(data_dir=tmp_path, dns_server_enabled=False), api=""))
    assert "MAILFLEET_DNS_SERVER_ENABLED=false" in off["DNS server"]
