"""`mailfleet demo`: the whole job on one machine, with progress bars and a summary."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

# The CLI imports this module to list its commands: the web stack loads only when a demo runs.
if TYPE_CHECKING:
    from mailfleet.demo.pipeline import DemoReport
    from mailfleet.demo.stack import Started

console = Console()


def demo(
    domains: int = typer.Option(3, min=1, max=50, help="Domains to submit under .test."),
    mailboxes: int = typer.Option(2, min=1, max=5, help="SMTP mailboxes per domain."),
    data_dir: Path = typer.Option(
        Path("mailfleet-demo"), help="Made (or a previous demo's wiped) for this run; kept after."
    ),
    port: int = typer.Option(None, help="API port (default: a free one)."),
    timeout: float = typer.Option(120.0, help="Seconds each stage may take."),
    keep_running: bool = typer.Option(
        False, help="Keep everything running after the summary, until Ctrl-C."
    ),
) -> None:
    """Run the real pipeline on this machine: domains delegated and ACTIVE, records healthy,
    mailboxes provisioned on a private Postfix/Dovecot, each logging in and sending mail.

    Needs root and Postfix/Dovecot (scripts/demo installs them). Everything listens on
    127.0.0.1 and no DNS query leaves the machine; it all stops at the end.
    """
    from mailfleet.demo.stack import DemoError

    try:
        run_demo(
            data_dir,
            domains=domains,
            mailboxes=mailboxes,
            port=port,
            timeout=timeout,
            keep_running=keep_running,
            console=console,
        )
    except DemoError as exc:
        console.print(f"[red]Demo stopped:[/] {exc}")
        raise typer.Exit(1) from None


def run_demo(
    data_dir: Path,
    *,
    domains: int,
    mailboxes: int,
    port: int | None = None,
    timeout: float = 120.0,
    keep_running: bool = False,
    console: Console,
) -> DemoReport:
    from mailfleet.demo.pipeline import Pipeline
    from mailfleet.demo.stack import DemoStack, demo_env

    console.print(f"Starting Mailfleet, its DNS server and a Postfix/Dovecot pair in {data_dir}")
    with DemoStack(data_dir, api_port=port) as started:
        (data_dir / "demo.env").write_text(demo_env(started))
        console.print(f"API {started.api_url}, DNS {started.dns_address} (UDP and TCP)")
        with _progress(console) as progress:
            report = Pipeline(
                started, progress, domains=domains, mailboxes_per_domain=mailboxes, timeout=timeout
            ).run()
        _summary(console, report, started, data_dir)
        if keep_running:
            console.print("[bold]Running.[/] Press Ctrl-C to stop everything.")
            with contextlib.suppress(KeyboardInterrupt):
                threading.Event().wait()
    console.print("[green]Stopped:[/] nothing of the demo is running any more.")
    return report


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description:<30}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def _mark(ok: bool) -> str:
    return "[green]yes[/]" if ok else "[red]no[/]"


def _summary(console: Console, report: DemoReport, started: Started, data_dir: Path) -> None:
    domains = Table(title="Domains", title_justify="left")
    for column in ("domain", "status", "delegation verified", "records healthy"):
        domains.add_column(column)
    for d in report.domains:
        checked = f"{_mark(d.records_healthy)} ({d.records_checked} records)"
        domains.add_row(d.name, d.status, _mark(d.delegated), checked)
    boxes = Table(title="Mailboxes", title_justify="left")
    for column in ("address", "status", "IMAP login", "SMTP send", "received"):
        boxes.add_column(column)
    for m in report.mailboxes:
        checks = (_mark(m.imap_login), _mark(m.smtp_sent), _mark(m.received))
        boxes.add_row(m.address, m.status, *checks)
    console.print(domains, boxes)
    if report.domains:
        first = report.domains[0]
        parents = ", ".join(first.parents_asked)
        console.print(
            f"Nameservers {' '.join(first.nameservers)}; the .test parent ({parents}) "
            "refers each domain to them.",
            soft_wrap=True,
        )
    took = ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in report.seconds.items())
    console.print(f"Stages: {took}", soft_wrap=True)
    title = "Mailfleet demo: all stages passed" if report.ok else "Mailfleet demo"
    console.rule(title)
    key, api, dns = started.api_key, started.api_url, started.dns_address
    dns_host, dns_port = dns.split(":")
    name = report.domains[0].name if report.domains else "acme-outreach.test"
    lines = [
        f"Owner: {started.owner_email} (also the deployment's operator)",
        f"API key: {key}",
        f"API: {api}/v1   docs: {api}/docs",
        f"Credentials CSV: {report.csv_path}",
        f"Log of the background work: {data_dir / 'demo.log'}",
        "",
        "To look around while it runs (mailfleet demo --keep-running):",
        f"  curl -H 'Authorization: Bearer {key}' {api}/v1/domains",
        f"  curl -H 'Authorization: Bearer {key}' {api}/v1/mailboxes",
        f"  dig @{dns_host} -p {dns_port} +norecurse {name} MX",
        f"  dig @{dns_host} -p {dns_port} +norecurse {name} NS    # the parent's referral",
        "The same data afterwards (API and DNS, without the mail servers):",
        f"  set -a; . {data_dir / 'demo.env'}; set +a; mailfleet serve",
    ]
    for line in lines:
        console.print(line, soft_wrap=True, highlight=False, markup=False)
