"""CSV files of a selection in each app's import format (integrations.md section 5), or a
generic one with every credential column; no account needed.

The file holds exactly the app's header and one row per mailbox, nothing else (no note, no
warning row), so it imports as is; values are written verbatim (a password that starts with
"=" stays one). Only ACTIVE mailboxes with credentials are in it: the others cannot sign in.
Rows are read and written in keyset batches, each in a short transaction of its own, so a
file of 100,000 mailboxes never sits in memory.
"""

from __future__ import annotations

import csv
import enum
import io
import uuid
from collections.abc import Callable, Iterator
from typing import Any, cast

from sqlalchemy import Select, select

from mailfleet.db import Database
from mailfleet.exports.apps.protocol import ExportSettings, MailboxCredential
from mailfleet.exports.selection import Filter, filtered
from mailfleet.kit.crypto import SecretBox
from mailfleet.kit.pagination import paginate, split_page
from mailfleet.models import Mailbox, MailboxStatus

BATCH = 1000
# What `credential` reads, plus the TOTP secret for the generic format.
COLUMNS = (
    Mailbox.id,
    Mailbox.address,
    Mailbox.first_name,
    Mailbox.last_name,
    Mailbox.mailbox_type,
    Mailbox.password_enc,
    Mailbox.app_password_enc,
    Mailbox.totp_secret_enc,
    Mailbox.smtp_host,
    Mailbox.smtp_port,
    Mailbox.imap_host,
    Mailbox.imap_port,
    Mailbox.smtp_security,
    Mailbox.imap_security,
)


class CsvFormat(enum.StrEnum):
    INSTANTLY = "INSTANTLY"
    SMARTLEAD = "SMARTLEAD"
    EMAILBISON = "EMAILBISON"
    # ReachInbox has no create endpoint; its CSV import takes the Instantly-style header.
    REACHINBOX = "REACHINBOX"
    GENERIC = "GENERIC"


Row = Callable[[MailboxCredential, ExportSettings, str | None], list[Any]]

INSTANTLY_HEADER = [
    "Email", "First Name", "Last Name", "IMAP Username", "IMAP Password", "IMAP Host",
    "IMAP Port", "SMTP Username", "SMTP Password", "SMTP Host", "SMTP Port", "Daily Limit",
    "Warmup Enabled", "Warmup Limit", "Warmup Increment",
]  # fmt: skip
SMARTLEAD_HEADER = [
    "from_name", "from_email", "user_name", "password", "smtp_host", "smtp_port", "imap_host",
    "imap_port", "max_email_per_day", "custom_tracking_url", "warmup_enabled",
    "total_warmup_per_day", "daily_rampup", "reply_rate_percentage", "bcc", "signature",
    "different_reply_to_address", "imap_user_name", "imap_password",
]  # fmt: skip
EMAILBISON_HEADER = [
    "Name", "Email", "Password", "IMAP Server", "IMAP Port", "SMTP Server", "SMTP Port",
    "Daily Limit", "SMTP Secure", "IMAP Secure",
]  # fmt: skip
GENERIC_HEADER = [
    "email", "first_name", "last_name", "type", "password", "app_password", "totp_secret",
    "smtp_host", "smtp_port", "smtp_security", "imap_host", "imap_port", "imap_security",
]  # fmt: skip


def _flag(value: bool) -> str:
    return "TRUE" if value else "FALSE"


def _instantly(m: MailboxCredential, s: ExportSettings, totp: str | None) -> list[Any]:
    login = m.login_password
    return [
        m.email, m.first_name, m.last_name, m.email, login, m.imap_host, m.imap_port, m.email,
        login, m.smtp_host, m.smtp_port, s.daily_limit, _flag(s.warmup_enabled), s.warmup_limit,
        s.warmup_increment,
    ]  # fmt: skip


def _smartlead(m: MailboxCredential, s: ExportSettings, totp: str | None) -> list[Any]:
    return [
        f"{m.first_name} {m.last_name}".strip(), m.email, m.email, m.login_password,
        m.smtp_host, m.smtp_port, m.imap_host, m.imap_port, s.daily_limit,
        s.tracking_domain or "", _flag(s.warmup_enabled), s.warmup_limit, s.warmup_increment,
        s.warmup_reply_rate, "", "", "", "", "",
    ]  # fmt: skip


def _secure(security: str | None) -> str:
    return _flag(security in ("ssl", "starttls"))


def _emailbison(m: MailboxCredential, s: ExportSettings, totp: str | None) -> list[Any]:
    return [
        f"{m.first_name} {m.last_name}".strip(), m.email, m.login_password, m.imap_host,
        m.imap_port, m.smtp_host, m.smtp_port, s.daily_limit, _secure(m.smtp_security),
        _secure(m.imap_security),
    ]  # fmt: skip


def _generic(m: MailboxCredential, s: ExportSettings, totp: str | None) -> list[Any]:
    return [
        m.email, m.first_name, m.last_name, m.mailbox_type.value, m.password,
        m.app_password or "", totp or "", m.smtp_host, m.smtp_port, m.smtp_security or "",
        m.imap_host, m.imap_port, m.imap_security or "",
    ]  # fmt: skip


FORMATS: dict[CsvFormat, tuple[list[str], Row]] = {
    CsvFormat.INSTANTLY: (INSTANTLY_HEADER, _instantly),
    CsvFormat.SMARTLEAD: (SMARTLEAD_HEADER, _smartlead),
    CsvFormat.EMAILBISON: (EMAILBISON_HEADER, _emailbison),
    CsvFormat.REACHINBOX: (INSTANTLY_HEADER, _instantly),
    CsvFormat.GENERIC: (GENERIC_HEADER, _generic),
}


def statement(
    workspace_id: uuid.UUID,
    tagged: list[uuid.UUID] | None,
    where: Filter,
    ids: list[uuid.UUID] | None,
    exclude: list[uuid.UUID],
) -> Select[Any]:
    # Columns, not entities: a batch of plain rows is all a file needs, and it costs far less.
    chosen = filtered(workspace_id, where, tagged, cast(Select[Any], select(*COLUMNS)))
    chosen = chosen.where(
        Mailbox.status == MailboxStatus.ACTIVE,
        Mailbox.password_enc.is_not(None),
        Mailbox.smtp_host.is_not(None),
        Mailbox.imap_host.is_not(None),
    )
    if ids is not None:
        chosen = chosen.where(Mailbox.id.in_(ids))
    if exclude:
        chosen = chosen.where(Mailbox.id.not_in(exclude))
    return chosen


def rows(
    database: Database,
    box: SecretBox,
    chosen: Select[Any],
    file_format: CsvFormat,
    settings: ExportSettings,
) -> Iterator[str]:
    header, row = FORMATS[file_format]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    cursor: str | None = None
    while True:
        with database.transaction(write=False) as session:
            found = session.execute(paginate(chosen, Mailbox.id, cursor, BATCH)).all()
            page, cursor = split_page(found, BATCH, lambda mailbox: mailbox.id)
            for mailbox in page:
                totp = box.decrypt_optional(mailbox.totp_secret_enc)
                writer.writerow(row(credential(mailbox, box), settings, totp))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if cursor is None:
            return


def credential(mailbox: Any, box: SecretBox) -> MailboxCredential:
    """The sign-in of a Mailbox (or a row of COLUMNS) as the apps take it, decrypted in
    memory only."""
    return MailboxCredential(
        email=mailbox.address,
        first_name=mailbox.first_name,
        last_name=mailbox.last_name,
        mailbox_type=mailbox.mailbox_type,
        password=box.decrypt(mailbox.password_enc or ""),
        app_password=box.decrypt_optional(mailbox.app_password_enc),
        smtp_host=mailbox.smtp_host or "",
        smtp_port=mailbox.smtp_port or 587,
        imap_host=mailbox.imap_host or "",
        imap_port=mailbox.imap_port or 993,
        smtp_security=mailbox.smtp_security,
        imap_security=mailbox.imap_security,
    )
