"""The demo's walk through the product, through the public API as a customer's script would.

Each stage calls the same routes a customer (or, for slots, an operator) calls in production
and waits for the background work to do its part: zone creation and the delegation check,
record publishing, provisioning on Postfix/Dovecot. Nothing is written to the database behind
the API's back. Then every mailbox is used as its owner would use it: an IMAP login and one
message sent over SMTP AUTH to the next mailbox, which must arrive.
"""

from __future__ import annotations

import csv
import imaplib
import os
import smtplib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from rich.progress import Progress

from mailfleet.demo.stack import DemoError, Started

FIRST_NAMES = ["Ada", "Ben", "Cleo", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun"]
LAST_NAMES = ["Stone", "Marsh", "Reyes", "Okafor", "Lind", "Moreau", "Sato", "Kerr"]
CSV_COLUMNS = [
    "email",
    "first_name",
    "last_name",
    "password",
    "smtp_host",
    "smtp_port",
    "smtp_security",
    "imap_host",
    "imap_port",
    "imap_security",
]


@dataclass
class DomainOutcome:
    id: str
    name: str
    status: str = "QUEUED"
    nameservers: list[str] = field(default_factory=list)
    delegated: bool = False
    delegation_reason: str = ""
    parents_asked: list[str] = field(default_factory=list)
    records_healthy: bool = False
    records_checked: int = 0


@dataclass
class MailboxOutcome:
    id: str
    address: str
    first_name: str
    last_name: str
    status: str = "PENDING"
    imap_login: bool = False
    smtp_sent: bool = False
    received: bool = False
    credentials: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class DemoReport:
    domains: list[DomainOutcome] = field(default_factory=list)
    mailboxes: list[MailboxOutcome] = field(default_factory=list)
    csv_path: Path | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return (
            bool(self.domains and self.mailboxes)
            and all(
                d.status == "ACTIVE" and d.delegated and d.records_healthy for d in self.domains
            )
            and all(
                m.status == "ACTIVE" and m.imap_login and m.smtp_sent and m.received
                for m in self.mailboxes
            )
        )


def demo_domains(count: int) -> list[str]:
    return [f"{brand}.test" for brand in _brands(count)]


def _brands(count: int) -> list[str]:
    words = ["acme-outreach", "brightleads", "coldpath", "dealflow", "echo-sales", "fastreply"]
    return [words[i] if i < len(words) else f"demo-brand-{i + 1}" for i in range(count)]


class Pipeline:
    def __init__(
        self,
        started: Started,
        progress: Progress,
        *,
        domains: int,
        mailboxes_per_domain: int,
        timeout: float,
    ) -> None:
        self.started = started
        self.progress = progress
        self.domain_count = domains
        self.per_domain = mailboxes_per_domain
        self.timeout = timeout
        self.report = DemoReport()
        self.http = httpx.Client(
            base_url=started.api_url,
            headers={"Authorization": f"Bearer {started.api_key}"},
            timeout=30.0,
        )

    def run(self) -> DemoReport:
        try:
            for name, stage in [
                ("submit", self.submit),
                ("delegation", self.wait_for_delegation),
                ("records", self.check_records),
                ("slots", self.grant_slots),
                ("order", self.order_mailboxes),
                ("provisioning", self.wait_for_provisioning),
                ("mail", self.use_mailboxes),
                ("csv", self.write_csv),
            ]:
                began = time.monotonic()
                stage()
                self.report.seconds[name] = time.monotonic() - began
        finally:
            self.http.close()
        return self.report

    # --- stages ---

    def submit(self) -> None:
        task = self.progress.add_task("Submit domains", total=1)
        body = {"domains": demo_domains(self.domain_count), "mailbox_type": "SMTP"}
        result = self._call("POST", "/v1/domains", json=body, expect=201)
        if result["rejected"]:
            raise DemoError(f"domains refused: {result['rejected']}")
        self.batch_id = result["batch_id"]
        self.report.domains = [DomainOutcome(a["id"], a["name"]) for a in result["accepted"]]
        self.progress.update(task, completed=1)

    def wait_for_delegation(self) -> None:
        """QUEUED -> PENDING_NS -> ACTIVE on their own: the zone, then the real check."""
        task = self.progress.add_task("Delegation verified", total=len(self.report.domains))

        def all_active() -> bool:
            batch = self._call("GET", f"/v1/domain-batches/{self.batch_id}")
            counts = batch["counts"]
            self.progress.update(task, completed=counts.get("ACTIVE", 0))
            if counts.get("FAILED"):
                raise DemoError(f"a domain FAILED: {counts}")
            return bool(counts.get("ACTIVE", 0) == len(self.report.domains))

        self._wait(all_active, "every domain ACTIVE")
        for domain in self.report.domains:
            got = self._call("GET", f"/v1/domains/{domain.id}")
            domain.status, domain.nameservers = got["status"], got["nameservers"]
            verified = self._call("POST", f"/v1/domains/{domain.id}/verify")
            diagnosis = verified["diagnosis"]
            domain.delegated = verified["delegated"]
            domain.delegation_reason = diagnosis.get("reason", "")
            domain.parents_asked = [p["server"] for p in diagnosis.get("parents", [])]

    def check_records(self) -> None:
        """The type's records (MX, SPF, DKIM, DMARC) published and served as expected."""
        task = self.progress.add_task("DNS records healthy", total=len(self.report.domains))
        for domain in self.report.domains:

            def healthy(domain: DomainOutcome = domain) -> bool:
                check = self._call("POST", f"/v1/domains/{domain.id}/dns/check")
                report = check.get("report") or {}
                domain.records_checked = len(report.get("records", []))
                return not check["drift"] and check["checked_at"] is not None

            self._wait(healthy, f"records of {domain.name} healthy")
            domain.records_healthy = True
            self.progress.advance(task)

    def grant_slots(self) -> None:
        """Operators grant slots; the bootstrap owner is the deployment's first operator."""
        task = self.progress.add_task("Grant mailbox slots", total=1)
        slots = self.domain_count * self.per_domain
        workspace = self.started.workspace_id
        self._call(
            "PUT", f"/v1/operator/workspaces/{workspace}/allocations/SMTP", json={"slots": slots}
        )
        self.progress.update(task, completed=1)

    def order_mailboxes(self) -> None:
        task = self.progress.add_task("Order mailboxes", total=len(self.report.domains))
        self.order_ids: list[str] = []
        people = iter(_people(self.domain_count * self.per_domain))
        for domain in self.report.domains:
            mailboxes = [next(people) for _ in range(self.per_domain)]
            body = {"domain": domain.name, "type": "SMTP", "mailboxes": mailboxes}
            order = self._call("POST", "/v1/mailbox-orders", json=body, expect=201)
            self.order_ids.append(order["id"])
            self.progress.advance(task)

    def wait_for_provisioning(self) -> None:
        total = self.domain_count * self.per_domain
        task = self.progress.add_task("Provision on Postfix/Dovecot", total=total)
        orders: list[dict[str, Any]] = []

        def all_completed() -> bool:
            orders[:] = [self._call("GET", f"/v1/mailbox-orders/{i}") for i in self.order_ids]
            mailboxes = [m for order in orders for m in order["mailboxes"]]
            self.progress.update(task, completed=sum(m["status"] == "ACTIVE" for m in mailboxes))
            failed = [m for m in mailboxes if m["status"] == "FAILED"]
            if failed:
                raise DemoError(f"{len(failed)} mailbox(es) FAILED: {failed[0]}")
            return all(order["status"] == "COMPLETED" for order in orders)

        self._wait(all_completed, "every order COMPLETED")
        for order in orders:
            for mailbox in order["mailboxes"]:
                creds = self._call("GET", f"/v1/mailboxes/{mailbox['id']}/credentials")
                self.report.mailboxes.append(
                    MailboxOutcome(
                        id=mailbox["id"],
                        address=creds["address"],
                        first_name=mailbox["first_name"],
                        last_name=mailbox["last_name"],
                        status=mailbox["status"],
                        credentials=creds,
                    )
                )

    def use_mailboxes(self) -> None:
        """Each mailbox logs in over IMAP and mails the next one over SMTP AUTH."""
        boxes = self.report.mailboxes
        task = self.progress.add_task("IMAP login + SMTP send", total=len(boxes) * 2)
        for box in boxes:
            self._wait(partial(_imap_login, box.credentials), f"IMAP login {box.address}")
            box.imap_login = True
            self.progress.advance(task)
        for index, box in enumerate(boxes):
            to = boxes[(index + 1) % len(boxes)].address
            send = partial(_send, box.credentials, to, _subject(box.address, to))
            self._wait(send, f"SMTP send from {box.address}")
            box.smtp_sent = True
        for index, box in enumerate(boxes):
            subject = _subject(boxes[index - 1].address, box.address)
            self._wait(partial(_has_message, box.credentials, subject), f"mail in {box.address}")
            box.received = True
            self.progress.advance(task)

    def write_csv(self) -> None:
        path = Path(self.started.settings.data_dir) / "credentials.csv"
        # Passwords: readable by the owner only, like the key file.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            for box in self.report.mailboxes:
                creds = box.credentials
                writer.writerow(
                    {
                        "email": box.address,
                        "first_name": box.first_name,
                        "last_name": box.last_name,
                        **{column: creds.get(column) for column in CSV_COLUMNS[3:]},
                    }
                )
        self.report.csv_path = path

    # --- plumbing ---

    def _call(
        self, method: str, path: str, *, json: Any = None, expect: int = 200
    ) -> dict[str, Any]:
        response = self.http.request(method, path, json=json)
        if response.status_code == 429:
            time.sleep(float(response.headers.get("Retry-After", "1")))
            response = self.http.request(method, path, json=json)
        if response.status_code != expect:
            raise DemoError(f"{method} {path} answered {response.status_code}: {response.text}")
        result: dict[str, Any] = response.json()
        return result

    def _wait(self, done: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + self.timeout
        while not done():
            if time.monotonic() > deadline:
                raise DemoError(f"not within {self.timeout:.0f} s: {what} (see demo.log)")
            time.sleep(0.25)


def _people(count: int) -> list[dict[str, str]]:
    people = []
    for i in range(count):
        first = FIRST_NAMES[i % len(FIRST_NAMES)]
        last = LAST_NAMES[(i // len(FIRST_NAMES)) % len(LAST_NAMES)]
        people.append(
            {"first_name": first, "last_name": last, "username": f"{first}.{last}".lower()}
        )
    return people


def _subject(sender: str, to: str) -> str:
    return f"Mailfleet demo: {sender} to {to}"


def _imap(creds: dict[str, Any]) -> imaplib.IMAP4:
    client = imaplib.IMAP4(creds["imap_host"], creds["imap_port"], timeout=10)
    try:
        client.login(creds["address"], creds["password"])
    except BaseException:
        client.shutdown()
        raise
    return client


def _imap_login(creds: dict[str, Any]) -> bool:
    """False while Dovecot has not read the new passwd-file yet (within a second)."""
    try:
        _imap(creds).logout()
    except imaplib.IMAP4.error:
        return False
    return True


def _send(creds: dict[str, Any], to: str, subject: str) -> bool:
    """False while Postfix has not taken the new tables yet (its reload takes a second or
    two); anything else is a real failure and stops the demo."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = creds["address"], to, subject
    message.set_content("Sent by `mailfleet demo` through SMTP AUTH on the submission port.")
    try:
        with smtplib.SMTP(creds["smtp_host"], creds["smtp_port"], timeout=10) as client:
            client.login(creds["address"], creds["password"])
            client.send_message(message)
    except smtplib.SMTPRecipientsRefused:
        return False
    return True


def _has_message(creds: dict[str, Any], subject: str) -> bool:
    client = _imap(creds)
    try:
        client.select("INBOX", readonly=True)
        _, data = client.search(None, "ALL")
        for number in data[0].split():
            _, parts = client.fetch(number, "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            raw = parts[0]
            if not isinstance(raw, tuple):
                continue
            # A long subject comes back folded; the default policy unfolds it.
            found = message_from_bytes(raw[1], policy=policy.default)["Subject"]
            if str(found).strip() == subject:
                return True
        return False
    finally:
        client.logout()
