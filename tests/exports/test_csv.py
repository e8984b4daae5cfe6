"""CSV files in each app's import format: golden files (the header and rows exactly), the
selection, and a file of 100,000 mailboxes streamed in bounded memory."""

from __future__ import annotations

import csv
import io
import os
import tracemalloc
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert

from mailfleet.db import Database
from mailfleet.exports import csvfiles
from mailfleet.exports.apps.protocol import ExportSettings
from mailfleet.exports.selection import Filter
from mailfleet.kit import clock
from mailfleet.kit.crypto import SecretBox
from mailfleet.kit.ids import uuid7
from mailfleet.models import Mailbox, MailboxStatus, MailboxType
from tests.conftest import TEST_KEY
from tests.exports.conftest import ready_mailboxes
from tests.factories import Caller, make_domain, make_mailbox

GOLDEN = Path(__file__).parent / "golden"
FORMATS = ["INSTANTLY", "SMARTLEAD", "EMAILBISON", "REACHINBOX", "GENERIC"]


def _golden_mailboxes(db: Database, caller: Caller) -> None:
    """Three fixed mailboxes (oldest first): the file lists them newest first."""
    box = SecretBox([TEST_KEY])
    domain = make_domain(db, caller.workspace_id, name="golden.test")
    specs = [
        ("ada", "Ada", "Stone", MailboxType.SMTP, "Pass,with\"quote", None, None),
        ("bob", "Bob", "Lane", MailboxType.GOOGLE, "=starts-with-equals", "abcd efgh ijkl mnop",
         "JBSWY3DPEHPK3PXP"),
        ("cy", "Cy", "O'Neil", MailboxType.MICROSOFT, "plain-Pass-1", None, None),
    ]  # fmt: skip
    now = clock.now()
    # Minted in one millisecond, time-ordered ids may come out in any order: sort them.
    ids = sorted(uuid7() for _ in specs)
    rows = []
    for mailbox_id, (username, first, last, kind, password, app_password, totp) in zip(
        ids, specs, strict=True
    ):
        rows.append(
            {
                "id": mailbox_id,
                "created_at": now,
                "updated_at": now,
                "workspace_id": caller.workspace_id,
                "domain_id": domain.id,
                "username": username,
                "address": f"{username}@golden.test",
                "first_name": first,
                "last_name": last,
                "mailbox_type": kind,
                "backend": "manual",
                "status": MailboxStatus.ACTIVE,
                "password_enc": box.encrypt(password),
                "app_password_enc": box.encrypt_optional(app_password),
                "totp_secret_enc": box.encrypt_optional(totp),
                "smtp_host": "smtp.golden.test",
                "smtp_port": 587,
                "imap_host": "imap.golden.test",
                "imap_port": 993,
                "smtp_security": "starttls",
                "imap_security": "ssl",
                "expires_at": now + timedelta(days=30),
                "provision_attempts": 0,
                "remove_at_renewal": False,
            }
        )
    with db.transaction() as session:
        session.execute(insert(Mailbox), rows)
    # Not in any file: it cannot sign in yet.
    make_mailbox(db, domain, status=MailboxStatus.PROVISIONING)


@pytest.mark.parametrize("file_format", FORMATS)
def test_each_format_matches_its_golden_file(
    api: TestClient, db: Database, owner: Caller, file_format: str
) -> None:
    _golden_mailboxes(db, owner)
    response = api.get(
        f"/v1/exports.csv?format={file_format}&daily_limit=40&warmup_enabled=true"
        "&tracking_domain=track.golden.test",
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    golden = GOLDEN / f"{file_format.lower()}.csv"
    if os.environ.get("MAILFLEET_WRITE_GOLDEN"):
        golden.write_bytes(response.content)
    expected = golden.read_bytes()
    assert response.content == expected


def test_the_file_takes_the_selection_and_only_the_callers_mailboxes(
    api: TestClient, db: Database, owner: Caller, other: Caller
) -> None:
    mine = ready_mailboxes(db, owner.workspace_id, 3)
    ready_mailboxes(db, other.workspace_id, 2)
    every = api.get("/v1/exports.csv?format=GENERIC", headers=owner.headers).text
    assert len(list(csv.reader(io.StringIO(every)))) == 1 + 3
    picked = api.get(
        f"/v1/exports.csv?id={mine[0]}&id={mine[1]}&exclude_id={mine[1]}", headers=owner.headers
    ).text
    lines = list(csv.DictReader(io.StringIO(picked)))
    assert len(lines) == 1
    assert lines[0]["password"] == "Mailbox-pass-1!"


def _stream_peak(db: Database, caller: Caller) -> tuple[int, int, int]:
    """(lines, bytes, peak traced memory) of streaming the caller's GENERIC file."""
    chosen = csvfiles.statement(caller.workspace_id, None, Filter(), None, [])
    chunks = csvfiles.rows(
        db, SecretBox([TEST_KEY]), chosen, csvfiles.CsvFormat.GENERIC, ExportSettings()
    )
    tracemalloc.start()
    try:
        written = lines = 0
        for chunk in chunks:
            written += len(chunk)
            lines += chunk.count("\r\n")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return lines, written, peak


def test_the_file_is_streamed_in_memory_that_does_not_grow_with_it(
    db: Database, owner: Caller, other: Caller
) -> None:
    """Four times the mailboxes, about the same memory: one batch of rows is held at a time.
    (bench/exports_csv.py streams 100,000 over HTTP; this keeps the suite's time small.)"""
    small, large = csvfiles.BATCH + 500, 6 * csvfiles.BATCH
    ready_mailboxes(db, owner.workspace_id, small)
    ready_mailboxes(db, other.workspace_id, large)
    small_lines, small_bytes, small_peak = _stream_peak(db, owner)
    large_lines, large_bytes, large_peak = _stream_peak(db, other)
    assert (small_lines, large_lines) == (small + 1, large + 1)
    assert large_bytes > 3 * small_bytes
    assert large_peak < 1.5 * small_peak, (small_peak, large_peak)
