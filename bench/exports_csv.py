"""CSV export of N mailboxes over HTTP against raw csv.writer over the same rows from the same
database (issue 13's target: within 3x).

The server runs under uvicorn in its own process; the client streams
`GET /v1/exports.csv?format=INSTANTLY` and counts the bytes. The baseline, in this process,
reads the same columns of the same rows in id order, decrypts each password as the file needs
it, and writes the Instantly columns with csv.writer into a buffer emptied every 1,000 rows:
what any exporter must do at the least. Both are timed end to end, best of `ROUNDS`.

Run: .venv/bin/python -m bench.exports_csv [MAILBOXES]   (default 100000)
"""

from __future__ import annotations

import csv
import io
import sys
import time

import httpx
from sqlalchemy import select

from bench.common import fresh_environment, server, tenant
from mailfleet.exports.csvfiles import INSTANTLY_HEADER
from mailfleet.kit.crypto import SecretBox
from mailfleet.models import Mailbox
from tests.conftest import TEST_KEY
from tests.exports.conftest import ready_mailboxes

ROUNDS = 3
CHUNK = 1000


def over_http(base: str, headers: dict[str, str]) -> tuple[float, int, int]:
    """Seconds, bytes and lines of one streamed download."""
    start = time.perf_counter()
    size = lines = 0
    url = f"{base}/v1/exports.csv"
    params = {"format": "INSTANTLY"}
    with httpx.stream("GET", url, params=params, headers=headers, timeout=600) as answer:
        answer.raise_for_status()
        for chunk in answer.iter_bytes():
            size += len(chunk)
            lines += chunk.count(b"\n")
    return time.perf_counter() - start, size, lines


def raw(env: object, workspace_id: object) -> tuple[float, int]:
    """Seconds and bytes of the same file written straight from the rows."""
    database = env.database  # type: ignore[attr-defined]
    box = SecretBox([TEST_KEY])
    start = time.perf_counter()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(INSTANTLY_HEADER)
    size = 0
    columns = (
        Mailbox.address, Mailbox.first_name, Mailbox.last_name, Mailbox.password_enc,
        Mailbox.app_password_enc, Mailbox.imap_host, Mailbox.imap_port, Mailbox.smtp_host,
        Mailbox.smtp_port,
    )  # fmt: skip
    with database.engine.connect() as connection:
        result = connection.execute(
            select(*columns).where(Mailbox.workspace_id == workspace_id).order_by(Mailbox.id.desc())
        )
        for index, row in enumerate(result, 1):
            login = box.decrypt_optional(row.app_password_enc) or box.decrypt(row.password_enc)
            writer.writerow(
                [
                    row.address, row.first_name, row.last_name, row.address, login,
                    row.imap_host, row.imap_port, row.address, login, row.smtp_host,
                    row.smtp_port, 30, "FALSE", 10, 1,
                ]
            )  # fmt: skip
            if index % CHUNK == 0:
                size += len(buffer.getvalue().encode())
                buffer.seek(0)
                buffer.truncate()
    size += len(buffer.getvalue().encode())
    return time.perf_counter() - start, size


def main(count: int) -> None:
    with fresh_environment(
        MAILFLEET_DNS_SERVER_ENABLED="false",
        MAILFLEET_WORKER_IN_PROCESS="false",
        # The key tests.exports.conftest encrypts the mailboxes' passwords with.
        MAILFLEET_ENCRYPTION_KEYS=TEST_KEY,
    ) as env:
        owner = tenant(env)
        made = time.perf_counter()
        for start in range(0, count, 20_000):
            ready_mailboxes(env.database, owner.workspace_id, min(20_000, count - start))
        print(f"{count} ACTIVE mailboxes made in {time.perf_counter() - made:.1f} s")
        backend = env.database.engine.dialect.name
        with server(env) as base:
            over_http(base, owner.headers)  # warm: the first request loads the app's routes
            http_runs = [over_http(base, owner.headers) for _ in range(ROUNDS)]
        raw_runs = [raw(env, owner.workspace_id) for _ in range(ROUNDS)]
        best_http = min(run[0] for run in http_runs)
        best_raw = min(run[0] for run in raw_runs)
        _, size, lines = http_runs[0]
        print(f"backend {backend}, {count} mailboxes, best of {ROUNDS}")
        print(f"HTTP   {best_http:7.2f} s  {size / 1e6:6.1f} MB  {lines - 1} rows")
        print(f"raw    {best_raw:7.2f} s  {raw_runs[0][1] / 1e6:6.1f} MB")
        print(f"ratio  {best_http / best_raw:7.2f}x (target within 3x)")
        print(f"rate   {count / best_http:,.0f} mailboxes/s over HTTP")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
