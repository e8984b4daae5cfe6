"""Everything `mailfleet demo` runs on one machine, on loopback, under one data directory.

- A private Postfix + Dovecot pair (`mailserver`), which the `smtp` mailbox backend provisions.
- Mailfleet itself, exactly as `mailfleet serve` runs it: migrations, the first-start bootstrap,
  then the app with its lifespan (the builtin DNS server and the in-process job worker) under
  uvicorn, in a thread of this process so the demo can stop it cleanly.

The settings are the production ones with three demo choices: the `test` TLD is local (the
builtin DNS server also answers as its registry and delegates every demo domain to its pair,
so the real delegation check passes), the nameserver pair is `ns1/ns2.mailfleet.test` served on
127.0.0.1, and every resolver Mailfleet might ask is that same server, so no query leaves the
machine. Checks and sweeps are fast so the demo takes seconds, not minutes.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from mailfleet.config import Settings
from mailfleet.demo.mailserver import MailServer
from mailfleet.kit.processes import free_port, free_udp_and_tcp_port

HOST = "127.0.0.1"
TLD = "test"
PAIR = ("ns1.mailfleet.test", "ns2.mailfleet.test")
# Written into a data directory the demo made, so a later run may wipe it and no other.
MARKER = ".mailfleet-demo"


class DemoError(RuntimeError):
    """Why the demo cannot run or did not finish; printed as one line."""


@dataclass(frozen=True)
class Started:
    api_url: str
    dns_address: str
    api_key: str
    owner_email: str
    workspace_id: str
    settings: Settings
    mail: MailServer


def prepare_data_dir(data_dir: Path) -> None:
    """An empty directory for this run: a previous demo's is wiped, anything else refused."""
    if data_dir.exists() and any(data_dir.iterdir()):
        if not (data_dir / MARKER).exists():
            raise DemoError(
                f"{data_dir} is not empty and was not made by `mailfleet demo`; "
                "pass --data-dir with a new or empty directory"
            )
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    (data_dir / MARKER).write_text("made by `mailfleet demo`; the next run deletes it\n")


def demo_settings(data_dir: Path, mail: MailServer, *, api_port: int, dns_port: int) -> Settings:
    dns = f"{HOST}:{dns_port}"
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": "",
        "host": HOST,
        "port": api_port,
        "local_tlds": [TLD],
        "nameserver_pairs": [PAIR],
        "dns_provider": "builtin",
        "dns_server_enabled": True,
        "dns_server_host": HOST,
        "dns_server_port": dns_port,
        # Explicit, although a local TLD's parent defaults to our own server.
        "dns_parent_servers": {TLD: [dns]},
        "dns_nameserver_addresses": {name: [dns] for name in PAIR},
        "dns_resolvers": [dns],
        "mail_host": "mail.mailfleet.test",
        "ns_check_backoff": [1, 1, 2, 3, 5],
        "sweep_interval": 1,
        "job_queue": "sqlite",
        "worker_in_process": True,
        "recent_creation_rule": "off",
        **mail.settings(),
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


class DemoStack:
    """`with DemoStack(data_dir) as started:` everything runs; on exit nothing does."""

    def __init__(self, data_dir: Path, *, api_port: int | None = None) -> None:
        self.data_dir = data_dir
        self.api_port = api_port
        self.mail: MailServer | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._log_handler: logging.Handler | None = None

    def start(self, timeout: float = 30.0) -> Started:
        from mailfleet.demo import mailserver

        reason = mailserver.missing()
        if reason:
            raise DemoError(f"the demo's mail server cannot run here: {reason}")
        prepare_data_dir(self.data_dir)
        self._log_to_file()
        try:
            # In a directory of its own: Postfix's and Dovecot's users must walk into it, and
            # the data directory is the owner's alone (0700).
            self.mail = _start_mail_server()
            settings = demo_settings(
                self.data_dir,
                self.mail,
                api_port=self.api_port or free_port(),
                dns_port=free_udp_and_tcp_port(),
            )
            owner, workspace_id, key = _bootstrap(settings)
            self._serve(settings, timeout)
        except BaseException:
            self.stop()
            raise
        return Started(
            api_url=f"http://{HOST}:{settings.port}",
            dns_address=f"{HOST}:{settings.dns_server_port}",
            api_key=key,
            owner_email=owner,
            workspace_id=workspace_id,
            settings=settings,
            mail=self.mail,
        )

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None
        self._server = None
        if self.mail is not None:
            self.mail.stop()
            self.mail = None
        if self._log_handler is not None:
            root = logging.getLogger("mailfleet")
            root.removeHandler(self._log_handler)
            root.propagate = True
            self._log_handler.close()
            self._log_handler = None

    def __enter__(self) -> Started:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # --- steps ---

    def _log_to_file(self) -> None:
        """Mailfleet's INFO lines (zones, checks, records, provisioning) go to demo.log, so
        they do not tear through the progress bars."""
        handler = logging.FileHandler(self.data_dir / "demo.log")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger("mailfleet")
        root.addHandler(handler)
        root.propagate = False
        self._log_handler = handler

    def _serve(self, settings: Settings, timeout: float) -> None:
        import uvicorn

        from mailfleet.app import create_app

        config = uvicorn.Config(
            create_app(settings),
            host=HOST,
            port=settings.port,
            log_config=None,
            access_log=False,
            lifespan="on",
            # The standard loop, not uvloop: every socket is then a Python one, which is how
            # the demo's test sees that nothing leaves the machine.
            loop="asyncio",
        )
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(target=server.run, name="mailfleet-demo-api", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive():
                raise DemoError(f"the API did not start on {HOST}:{settings.port} (see demo.log)")
            if time.monotonic() > deadline:
                raise DemoError(f"the API did not start within {timeout:.0f} s")
            time.sleep(0.05)


def _start_mail_server() -> MailServer:
    try:
        return MailServer().start()
    except RuntimeError as exc:
        raise DemoError(f"the demo's Postfix/Dovecot pair did not start: {exc}") from None


def _bootstrap(settings: Settings) -> tuple[str, str, str]:
    """What `mailfleet serve` does on first start: migrate, create the owner, print a key."""
    from mailfleet import bootstrap, migrations
    from mailfleet.db import Database

    database = Database(settings)
    try:
        migrations.upgrade(database.engine)
        with database.transaction() as session:
            created = bootstrap.bootstrap_if_empty(session, settings)
    finally:
        database.dispose()
    if created is None:
        raise DemoError(f"{settings.data_dir} already has users")
    return created.email, str(created.workspace_id), created.token


def demo_env(started: Started) -> str:
    """The settings as MAILFLEET_ variables, so `mailfleet serve` can reopen the demo's data."""
    settings = started.settings
    lines = {
        "MAILFLEET_DATA_DIR": str(settings.data_dir.resolve()),
        "MAILFLEET_PORT": str(settings.port),
        "MAILFLEET_LOCAL_TLDS": TLD,
        "MAILFLEET_NAMESERVER_PAIRS": " ".join(PAIR),
        "MAILFLEET_DNS_SERVER_PORT": str(settings.dns_server_port),
        "MAILFLEET_DNS_PARENT_SERVERS": f"{TLD}={started.dns_address}",
        "MAILFLEET_DNS_NAMESERVER_ADDRESSES": ",".join(f"{n}={started.dns_address}" for n in PAIR),
        "MAILFLEET_DNS_RESOLVERS": started.dns_address,
        "MAILFLEET_MAIL_HOST": settings.mail_host,
    }
    return "".join(f"{key}='{value}'\n" for key, value in lines.items())
