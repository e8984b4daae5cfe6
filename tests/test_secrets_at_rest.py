"""No plaintext password, app password or TOTP secret in the database, the job queue or the logs.

Secrets go in through the operator API and an idempotent replay of it (whose stored response is
itself a secret), and come back out through the credentials endpoint; then every byte the
service wrote is searched for them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from mailfleet.db import Database
from mailfleet.models import Base, MailboxStatus
from tests.factories import make_domain, make_mailbox, make_tenant

PASSWORD = "Plain-Password-7f3a9c"
APP_PASSWORD = "abcdefghijklmnop-app"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
SECRETS = (PASSWORD, APP_PASSWORD, TOTP_SECRET)


def _database_text(db: Database) -> str:
    """Every row of every table as text (works the same on SQLite and PostgreSQL)."""
    chunks = []
    with db.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(select(table)):
                chunks.append(repr(tuple(row)))
    return "\n".join(chunks)


def _files_under(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.rglob("*") if p.is_file())


def test_secrets_are_stored_encrypted_and_never_logged(
    db: Database,
    make_client: Callable[..., TestClient],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client(job_queue="sqlite")
    operator = make_tenant(db, operator=True)
    tenant = make_tenant(db)
    domain = make_domain(db, tenant.workspace_id)
    mailbox_id = make_mailbox(db, domain, status=MailboxStatus.PENDING)
    body = {
        "password": PASSWORD,
        "app_password": APP_PASSWORD,
        "totp_secret": TOTP_SECRET,
        "smtp_host": "smtp.example.com",
        "smtp_port": 587,
        "imap_host": "imap.example.com",
        "imap_port": 993,
    }
    headers = {**operator.headers, "Idempotency-Key": "complete-1"}
    for _ in range(2):  # the replay is served from the stored (encrypted) response
        done = client.post(
            f"/v1/operator/mailboxes/{mailbox_id}/complete", json=body, headers=headers
        )
        assert done.status_code == 200, done.text
        assert PASSWORD not in done.text
    creds = client.get(f"/v1/mailboxes/{mailbox_id}/credentials", headers=tenant.headers)
    assert creds.status_code == 200, creds.text
    assert (creds.json()["password"], creds.json()["totp_secret"]) == (PASSWORD, TOTP_SECRET)

    stored = _database_text(db)
    for secret in SECRETS:
        assert secret not in stored
    if db.engine.dialect.name == "sqlite":
        # The file itself, write-ahead log included: no page holds a plaintext secret.
        with db.engine.connect() as connection:
            connection.execute(text("PRAGMA wal_checkpoint(FULL)"))
        database_file = Path(db.engine.url.database or "")
        raw = _files_under(database_file.parent)
    else:
        raw = b""
    raw += _files_under(tmp_path)  # the data directory: job queue, key file
    for secret in SECRETS:
        assert secret.encode() not in raw
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in SECRETS:
        assert secret not in logged
