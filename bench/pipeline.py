"""The whole pipeline in one command (issue 13): N domains submitted, delegated at the local
fake parent, ACTIVE, 5 SMTP mailboxes each provisioned on the real Postfix/Dovecot, and all of
them exported to the Instantly fake. Wall time per stage and in total (target: under 60 s for
1,000 domains on this 2-core machine).

Everything runs through the API (an in-process TestClient) and the in-process `Worker` (its
job threads and its sweep), on real servers: two private PowerDNS (the parent `com.` and the
customer zones' server), a private Postfix + Dovecot pair, and the Instantly fake. The
registrar's part is done up front: the parent already delegates each name to the pair the
deployment assigns, so the first delegation check after a zone is made finds it. Afterwards the
bench checks the outcome: every mailbox ACTIVE, in the passwd-file once, at Instantly once.

Run: .venv/bin/python -m bench.pipeline [DOMAINS]   (default 1000)
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable

from pydantic import SecretStr
from sqlalchemy import func, select

from bench.common import Env, fresh_environment, tenant
from bench.mailbox_provisioning import mail_env
from mailfleet.app import create_app
from mailfleet.jobs.worker import Worker
from mailfleet.models import Domain, DomainStatus, Mailbox, MailboxStatus, MailboxType
from tests.factories import give_slots, order_body
from tests.fakes.sequencers.instantly import InstantlyFake
from tests.support.mailserver import MailServer
from tests.support.powerdns import PowerDNS

warnings.filterwarnings("ignore", message=".*httpx.*", category=DeprecationWarning)

from fastapi.testclient import TestClient  # noqa: E402

PAIR = ("ns1.mailfleet.test", "ns2.mailfleet.test")
PER_DOMAIN = 5
USERNAMES = [f"user{j}" for j in range(PER_DOMAIN)]
TIMEOUT = 600.0


def domain_count(env: Env, status: DomainStatus) -> int:
    with env.database.transaction(write=False) as session:
        return int(session.scalar(select(func.count()).where(Domain.status == status)) or 0)


def mailbox_count(env: Env, status: MailboxStatus) -> int:
    with env.database.transaction(write=False) as session:
        return int(session.scalar(select(func.count()).where(Mailbox.status == status)) or 0)


def wait(what: str, done: Callable[[], bool], failed: Callable[[], int]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not done():
        if failed():
            raise SystemExit(f"{what}: {failed()} FAILED")
        if time.monotonic() > deadline:
            raise SystemExit(f"{what}: not done after {TIMEOUT:.0f} s")
        time.sleep(0.05)


def main(size: int) -> None:
    names = [f"pipe{i:05d}.com" for i in range(size)]
    with (
        PowerDNS() as parent,
        PowerDNS() as child,
        MailServer() as mail,
        InstantlyFake() as instantly,
    ):
        parent.create_zone("com", ["a.gtld.test", "b.gtld.test"])
        parent.bulk_delegations("com", [(name, PAIR) for name in names])
        with fresh_environment(
            **mail_env(mail),
            MAILFLEET_JOB_QUEUE="memory",
            MAILFLEET_WORKER_IN_PROCESS="false",
            MAILFLEET_DNS_SERVER_ENABLED="false",
            MAILFLEET_RECENT_CREATION_RULE="off",
            MAILFLEET_SWEEP_INTERVAL="1",
            MAILFLEET_EXPORT_INSTANTLY_BASE_URL=instantly.base_url,
            MAILFLEET_EXPORT_CONCURRENCY="8",
        ) as env:
            settings = env.settings.model_copy(
                update={
                    "dns_provider": "powerdns",
                    "powerdns_api_url": child.url,
                    "powerdns_api_key": SecretStr(child.api_key),
                    "powerdns_server_id": "localhost",
                    "dns_parent_servers": {"com": [parent.address]},
                    "dns_nameserver_addresses": {host: [child.address] for host in PAIR},
                    "nameserver_pairs": [PAIR],
                    "dns_query_timeout": 2.0,
                }
            )
            run(env, settings, names, mail, instantly)


def run(
    env: Env, settings: object, names: list[str], mail: MailServer, instantly: InstantlyFake
) -> None:
    size = len(names)
    expected = size * PER_DOMAIN
    caller = tenant(env)
    give_slots(env.database, caller.workspace_id, MailboxType.SMTP, expected)
    client = TestClient(create_app(settings, env.database))  # type: ignore[arg-type]
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    stages: list[tuple[str, float]] = []
    with Worker(runtime, threads=4):
        started = mark = time.perf_counter()

        def stage(name: str) -> None:
            nonlocal mark
            now = time.perf_counter()
            stages.append((name, now - mark))
            mark = now

        answer = client.post("/v1/domains", json={"domains": names}, headers=caller.headers)
        assert answer.status_code == 201, answer.text
        stage("submit (1 request)")
        failed_domains = lambda: domain_count(env, DomainStatus.FAILED)  # noqa: E731
        wait("zones", lambda: domain_count(env, DomainStatus.QUEUED) == 0, failed_domains)
        stage("zones made at PowerDNS (QUEUED -> PENDING_NS)")
        wait("delegation", lambda: domain_count(env, DomainStatus.ACTIVE) == size, failed_domains)
        stage("delegation checked (-> ACTIVE)")
        for name in names:
            ordered = client.post(
                "/v1/mailbox-orders",
                json=order_body(name, USERNAMES, "SMTP"),
                headers=caller.headers,
            )
            assert ordered.status_code == 201, ordered.text
        stage(f"orders ({size} requests)")
        wait(
            "provisioning",
            lambda: mailbox_count(env, MailboxStatus.ACTIVE) == expected,
            lambda: mailbox_count(env, MailboxStatus.FAILED),
        )
        stage("provisioned on Postfix/Dovecot (-> ACTIVE)")
        account = client.post(
            "/v1/export-accounts",
            json={"app": "INSTANTLY", "label": "bench", "credentials": {"api_key": "good-key"}},
            headers=caller.headers,
        )
        assert account.status_code == 201, account.text
        job = client.post(
            "/v1/exports",
            json={"app": "INSTANTLY", "filter": {"type": "SMTP"}},
            headers=caller.headers,
        )
        assert job.status_code == 202, job.text
        job_id = job.json()["id"]

        def exported() -> bool:
            found = client.get(f"/v1/exports/{job_id}", headers=caller.headers).json()
            return bool(found["status"] in ("COMPLETED", "FAILED"))

        wait("export", exported, lambda: 0)
        stage("exported to Instantly")
        total = time.perf_counter() - started
    counts = client.get(f"/v1/exports/{job_id}", headers=caller.headers).json()["counts"]
    client.close()
    check(mail, instantly, expected, counts)
    backend = env.database.engine.dialect.name
    print(f"{size} domains, {expected} SMTP mailboxes, backend {backend}, worker 4 threads")
    for name, seconds in stages:
        print(f"  {name:<48} {seconds:8.2f} s")
    print(f"  {'total':<48} {total:8.2f} s   (target under 60 s at 1,000 domains)")
    print(f"  {expected / total:,.0f} mailboxes/s from names to exported")


def check(mail: MailServer, instantly: InstantlyFake, expected: int, counts: dict) -> None:
    lines = [line for line in mail.passwd_file.read_text().splitlines() if line[:1] not in "#"]
    addresses = {line.split(":", 1)[0] for line in lines if line}
    if len(addresses) != expected or len(lines) != expected:
        raise SystemExit(f"passwd-file: {len(lines)} lines, {len(addresses)} addresses")
    if counts["created"] != expected or len(instantly.accounts) != expected:
        raise SystemExit(f"Instantly holds {len(instantly.accounts)}; counts {counts}")
    if set(instantly.accounts) != addresses:
        raise SystemExit("Instantly and the mail server disagree on the addresses")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
