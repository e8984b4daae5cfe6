"""A private Dovecot + Postfix pair on loopback, for `mailfleet demo` and the test suite
(integrations.md 4.2, verified recipe).

Each instance lives in its own temporary directory: Dovecot's config, base and state dirs, the
maildirs, Postfix's config, queue and data dirs, and the files the SMTP mailbox provider writes
(the passwd-file and three texthash maps). Ports are free loopback ports, so several instances
(or several engineers' test runs) can run at once next to each other.

- Dovecot serves IMAP, LMTP (Postfix delivers through it) and the SASL socket Postfix's
  submission listener authenticates against. It runs in the foreground (`-F`) as our child, so
  stopping it never depends on a pid file.
- Postfix has two smtpd listeners: "smtp" (port 25's role: mail from anywhere to our domains)
  and "submission" (AUTH required). Every service runs without chroot, so nothing has to be
  copied into the queue directory; outbound delivery is disabled (`default_transport = error`).

Postfix prints fatal start errors only to a terminal (recipe gotcha), so `postfix start` runs
with a pseudo-terminal (`run_with_tty`) and a failed start shows its own reason.

Differences from production, all about speed: no TLS; refused logins are answered at once
(Dovecot's failure delay and per-address penalty, Postfix's error sleep are off), because
tests refuse logins on purpose and every test connects from 127.0.0.1. Outbound delivery is
off: mail only moves between the mailboxes this pair hosts.

Timing tests must allow for: Dovecot notices a changed passwd-file within a second; Postfix
notices changed tables only after `postfix reload`, and its fresh daemons wait until a table
written in the last second or two "settles" (its texthash loader sleeps), so a change takes
about two seconds to reach SMTP. `wait_for`, `wait_for_recipient` and `wait_for_message` poll.
"""

from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import smtplib
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

from mailfleet.kit.processes import LoopbackServer, free_port, stop_process
from mailfleet.mailboxes.providers.mailmaps import run_with_tty

HOST = "127.0.0.1"
HOSTNAME = "mail.mailfleet.test"
# The unprivileged user owning every maildir; scripts/install creates it.
MAIL_USER = "vmail"


def missing() -> str | None:
    """Why the mail servers cannot run here, or None when they can."""
    hint = "(scripts/install --with-mail installs postfix, dovecot-imapd, dovecot-lmtpd)"
    for binary in ("postfix", "dovecot"):
        if shutil.which(binary) is None:
            return f"{binary} not found {hint}"
    for program in ("/usr/lib/dovecot/imap", "/usr/lib/dovecot/lmtp"):
        if not os.path.exists(program):
            return f"{program} not found {hint}"
    if os.geteuid() != 0:
        return "the private Postfix/Dovecot pair needs root (it switches to vmail and postfix)"
    for user in (MAIL_USER, "postfix", "dovecot", "dovenull"):
        try:
            pwd.getpwnam(user)
        except KeyError:
            return f"system user {user} missing {hint}"
    return None


class MailServer(LoopbackServer):
    """Start with `with MailServer() as mail:` (or start()/stop())."""

    def __init__(self) -> None:
        # Deleted on stop, with the mail in it.
        self.root = Path(tempfile.mkdtemp(prefix="mailfleet-mail-"))
        # Postfix's daemons (user postfix) and Dovecot's (vmail, dovecot) walk into it.
        self.root.chmod(0o755)
        self.imap_port = free_port()
        self.lmtp_port = free_port()
        self.smtp_port = free_port()
        self.submission_port = free_port()
        self.maps_dir = self.root / "maps"
        self.passwd_file = self.maps_dir / "passwd"
        self.virtual_mailbox_domains = self.maps_dir / "virtual_mailbox_domains"
        self.virtual_mailbox_maps = self.maps_dir / "virtual_mailbox_maps"
        self.virtual_alias_maps = self.maps_dir / "virtual_alias_maps"
        self.postfix_dir = self.root / "postfix"
        self.mail_dir = self.root / "mail"
        self._dovecot: subprocess.Popen[bytes] | None = None
        self._postfix_started = False

    # --- lifecycle ---

    def start(self, timeout: float = 20.0) -> MailServer:
        reason = missing()
        if reason:
            raise RuntimeError(reason)
        try:
            self._write_files()
            self._start_dovecot()
            self._start_postfix()
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._postfix_started:
            subprocess.run(
                ["postfix", "-c", str(self.postfix_dir), "stop"], capture_output=True, timeout=30
            )
            self._postfix_started = False
        if self._dovecot is not None:
            stop_process(self._dovecot)
            self._dovecot = None
        shutil.rmtree(self.root, ignore_errors=True)

    def settings(self) -> dict[str, Any]:
        """Settings keyword arguments wiring the SMTP mailbox types and the "smtp" provider to
        this pair: the provider writes its files, reloads its Postfix, hands out its ports."""
        return {
            "backend_smtp": "smtp",
            "backend_smtp_dedicated": "smtp",
            "mail_passwd_file": self.passwd_file,
            "postfix_virtual_mailbox_domains": self.virtual_mailbox_domains,
            "postfix_virtual_mailbox_maps": self.virtual_mailbox_maps,
            "postfix_virtual_alias_maps": self.virtual_alias_maps,
            "postfix_config_dir": str(self.postfix_dir),
            "smtp_server_host": HOST,
            "smtp_submission_port": self.submission_port,
            # Loopback without TLS: what a client must speak to this pair.
            "smtp_security": "none",
            "imap_server_host": HOST,
            "imap_port": self.imap_port,
            "imap_security": "none",
        }

    # --- clients ---

    def imap(self, address: str, password: str) -> imaplib.IMAP4:
        """A logged-in IMAP session; raises imaplib.IMAP4.error on a refused login."""
        client = imaplib.IMAP4(HOST, self.imap_port, timeout=10)
        try:
            client.login(address, password)
        except BaseException:
            client.shutdown()
            raise
        return client

    def submission(self, address: str, password: str) -> smtplib.SMTP:
        """An SMTP session on the submission port after AUTH; raises SMTPAuthenticationError."""
        client = smtplib.SMTP(HOST, self.submission_port, timeout=10)
        try:
            client.login(address, password)
        except BaseException:
            client.close()
            raise
        return client

    def smtp(self) -> smtplib.SMTP:
        """An unauthenticated SMTP session on the inbound (port 25 role) listener."""
        return smtplib.SMTP(HOST, self.smtp_port, timeout=10)

    def login_works(self, address: str, password: str) -> bool:
        """Whether Dovecot accepts this IMAP login now (False on its "NO")."""
        try:
            self.imap(address, password).logout()
        except imaplib.IMAP4.error:
            return False
        return True

    def rcpt(self, address: str) -> tuple[int, bytes]:
        """Postfix's answer to RCPT TO `address` from outside (inbound listener)."""
        with self.smtp() as client:
            client.ehlo()
            client.mail("probe@outside.test")
            answer = client.rcpt(address)
            client.rset()
        return answer

    def accepts_recipient(self, address: str) -> bool:
        """Whether Postfix takes mail for `address` from outside now."""
        return self.rcpt(address)[0] == 250

    def messages(self, address: str, password: str) -> list[Message]:
        """Every message in the mailbox's INBOX, oldest first."""
        client = self.imap(address, password)
        try:
            client.select("INBOX", readonly=True)
            _, data = client.search(None, "ALL")
            found = []
            for number in data[0].split():
                _, parts = client.fetch(number, "(RFC822)")
                raw = parts[0]
                assert isinstance(raw, tuple)
                found.append(message_from_bytes(raw[1]))
            return found
        finally:
            client.logout()

    def wait_for(self, check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
        """Poll `check` until it holds. Mail servers see provider changes within about a second
        (Dovecot stats its passwd-file once a second, `postfix reload` is asynchronous)."""
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {timeout} s: {what}\n{self.log()[-4000:]}")
            time.sleep(0.1)

    def wait_for_login(self, address: str, password: str, timeout: float = 10.0) -> None:
        """Until Dovecot accepts this login (it re-reads the passwd-file within a second)."""
        self.wait_for(lambda: self.login_works(address, password), f"login {address}", timeout)

    def wait_for_recipient(self, address: str, timeout: float = 10.0) -> None:
        """Until Postfix takes mail for `address`: after a provider change, a message sent
        before the reload took effect would be routed by the old tables."""
        self.wait_for(
            lambda: self.accepts_recipient(address), f"Postfix accepts {address}", timeout
        )

    def wait_for_message(
        self, address: str, password: str, subject: str, timeout: float = 10.0
    ) -> Message:
        """The message with this subject once it is in the mailbox (delivery is queued)."""
        found: list[Message] = []

        def arrived() -> bool:
            found[:] = [m for m in self.messages(address, password) if m["Subject"] == subject]
            return bool(found)

        self.wait_for(arrived, f"message {subject!r} in {address}", timeout)
        return found[0]

    def log(self) -> str:
        parts = []
        for name in ("dovecot.log", "dovecot.out", "postfix.log"):
            path = self.root / name
            if path.exists():
                parts.append(f"--- {name}\n{path.read_text(errors='replace')}")
        return "\n".join(parts)

    # --- configuration ---

    def _write_files(self) -> None:
        for directory in (
            self.maps_dir,
            self.postfix_dir,
            self.root / "postfix-queue",  # `postfix start` makes its subdirectories
            self.root / "base",
            self.mail_dir,
        ):
            directory.mkdir(mode=0o755)
        shutil.chown(self.mail_dir, MAIL_USER, MAIL_USER)
        # The provider's files start empty, as on a fresh mail host. Dovecot's auth process runs
        # as user dovecot: the passwd-file (hashes) is readable by that group only, and the
        # provider keeps mode and group when it replaces the file.
        for path in (self.virtual_mailbox_domains, self.virtual_mailbox_maps):
            path.write_text("")
        self.virtual_alias_maps.write_text("")
        self.passwd_file.write_text("")
        shutil.chown(self.passwd_file, "root", "dovecot")
        self.passwd_file.chmod(0o640)
        (self.root / "dovecot.conf").write_text(self._dovecot_config())
        (self.postfix_dir / "main.cf").write_text(self._postfix_main())
        (self.postfix_dir / "master.cf").write_text(self._postfix_master())
        shutil.copy("/etc/postfix/dynamicmaps.cf", self.postfix_dir / "dynamicmaps.cf")
        # Postfix insists that its data directory belongs to the mail_owner (recipe gotcha).
        data = self.root / "postfix-data"
        data.mkdir()
        shutil.chown(data, "postfix", "postfix")

    def _dovecot_config(self) -> str:
        root = self.root
        return f"""\
base_dir = {root}/base
state_dir = {root}/state
protocols = imap lmtp
listen = {HOST}
# Loopback tests only; production has TLS on 993/587 with real certificates.
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_verbose = yes
# Production delays a refused login by 2 s against guessing; tests refuse logins on purpose.
auth_failure_delay = 0
mail_location = maildir:{self.mail_dir}/%d/%n
log_path = {root}/dovecot.log
mail_uid = {MAIL_USER}
mail_gid = {MAIL_USER}
passdb {{
  driver = passwd-file
  args = scheme=SHA512-CRYPT username_format=%u {self.passwd_file}
}}
userdb {{
  driver = static
  args = uid={MAIL_USER} gid={MAIL_USER} home={self.mail_dir}/%d/%n
}}
service imap-login {{
  inet_listener imap {{
    address = {HOST}
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = {HOST}
    port = {self.lmtp_port}
  }}
}}
service auth {{
  unix_listener auth-postfix {{
    mode = 0666
  }}
}}
# Without it Dovecot slows every login from an address after a refused one (up to 15 s, all
# tests share 127.0.0.1): auth gives up on penalties when it cannot reach this socket.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""

    def _postfix_main(self) -> str:
        root = self.root
        return f"""\
compatibility_level = 3.6
queue_directory = {root}/postfix-queue
data_directory = {root}/postfix-data
# postfix-files (the list `postfix start` checks) lives there, not in our config directory.
meta_directory = /etc/postfix
myhostname = {HOSTNAME}
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
# Must be under one of the prefixes, or Postfix refuses to log there.
maillog_file = {root}/postfix.log
maillog_file_prefixes = {root}
alias_maps =
alias_database =
virtual_mailbox_domains = texthash:{self.virtual_mailbox_domains}
virtual_mailbox_maps = texthash:{self.virtual_mailbox_maps}
virtual_alias_maps = texthash:{self.virtual_alias_maps}
virtual_transport = lmtp:inet:{HOST}:{self.lmtp_port}
smtpd_sasl_type = dovecot
smtpd_sasl_path = {root}/base/auth-postfix
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
default_transport = error:outbound delivery disabled in tests
relay_transport = error:outbound delivery disabled in tests
# Tests are refused on purpose (wrong passwords, unknown users): answer at once.
smtpd_error_sleep_time = 0s
# Tests read the mail at once; no reason to let the queue manager wait.
queue_run_delay = 1s
minimal_backoff_time = 1s
"""

    def _postfix_master(self) -> str:
        # No chroot anywhere (the fifth column): chrooted daemons would need copies of system
        # files inside the queue directory, and the submission listener the SASL socket there.
        services = [
            f"{HOST}:{self.smtp_port} inet n - n - - smtpd",
            f"{HOST}:{self.submission_port} inet n - n - - smtpd",
            "  -o syslog_name=postfix/submission",
            "  -o smtpd_sasl_auth_enable=yes",
            "  -o smtpd_client_restrictions=permit_sasl_authenticated,reject",
            "pickup unix n - n 60 1 pickup",
            "cleanup unix n - n - 0 cleanup",
            "qmgr unix n - n 300 1 qmgr",
            "rewrite unix - - n - - trivial-rewrite",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
            "verify unix - - n - 1 verify",
            "flush unix n - n 1000? 0 flush",
            "proxymap unix - - n - - proxymap",
            "showq unix n - n - - showq",
            "error unix - - n - - error",
            "retry unix - - n - - error",
            "discard unix - - n - - discard",
            "smtp unix - - n - - smtp",
            "relay unix - - n - - smtp",
            "lmtp unix - - n - - lmtp",
            "anvil unix - - n - 1 anvil",
            "scache unix - - n - 1 scache",
            "postlog unix-dgram n - n - 1 postlogd",
        ]
        return "\n".join(services) + "\n"

    # --- processes ---

    def _start_dovecot(self) -> None:
        out = (self.root / "dovecot.out").open("wb")
        self._dovecot = subprocess.Popen(
            ["dovecot", "-F", "-c", str(self.root / "dovecot.conf")],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        out.close()

    def _start_postfix(self) -> None:
        code, output = run_with_tty(["postfix", "-c", str(self.postfix_dir), "start"], 60.0)
        if code != 0:
            raise RuntimeError(f"postfix start exited with {code}:\n{output}\n{self.log()}")
        self._postfix_started = True

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = {"imap": self.imap_port, "smtp": self.smtp_port, "sub": self.submission_port}
        while pending:
            if self._dovecot is not None and self._dovecot.poll() is not None:
                raise RuntimeError(f"dovecot exited with {self._dovecot.returncode}:\n{self.log()}")
            for name, port in list(pending.items()):
                if _greets(port):
                    del pending[name]
            if pending and time.monotonic() > deadline:
                raise RuntimeError(
                    f"no greeting on {sorted(pending)} in {timeout} s:\n{self.log()}"
                )
            if pending:
                time.sleep(0.05)


def _greets(port: int) -> bool:
    """True once the server on `port` sends its banner (IMAP "* OK", SMTP "220")."""
    try:
        with socket.create_connection((HOST, port), timeout=2) as sock:
            banner = sock.recv(256)
    except OSError:
        return False
    return banner.startswith((b"* OK", b"220"))
