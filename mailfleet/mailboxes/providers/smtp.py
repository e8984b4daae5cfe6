"""Mailfleet's own mailboxes on Postfix + Dovecot (integrations.md 4.2), kept in files they read.

Four files, paths from settings:

- Dovecot's passdb passwd-file: `user@domain:{SHA512-CRYPT}$6$...:::First Last:::` (logins);
- Postfix `texthash:` tables: virtual_mailbox_domains (`domain OK`), virtual_mailbox_maps
  (`user@domain OK`: Postfix accepts mail for it and hands it to Dovecot over LMTP) and
  virtual_alias_maps (forwarding, below).

Why files rather than SQL lookups: in this deployment shape Mailfleet's workers run on the mail
host itself, next to a SQLite database. Files keep the mail servers independent of Mailfleet
(they go on accepting mail and logins while it is stopped or migrating), need no database
driver packages or credentials on the mail host, and stay readable for an operator. Each change
rewrites a whole file, which is fine up to some tens of thousands of mailboxes per host. A
larger or multi-host production setup keeps the same servers but points them at PostgreSQL
(`passdb { driver = sql }`, Postfix `pgsql:` maps over the mailbox tables): provisioning is then
a row written in the job's transaction, seen at once, no files and no reload.

Writes: every change is a read-modify-write of the files under one exclusive lock (a lock file
next to the passwd-file), each file replaced atomically (mailmaps.py), so several workers can
provision at once. Only files whose content changes are rewritten; entries Mailfleet did not
write (an operator's postmaster alias) are kept, comments are not.

Rounds: a round (read, change, write, reload) costs time in proportion to the files' size, not
to the change, so the provisioning job hands `create_mailboxes` a whole chunk of mailboxes: one
locked read-modify-write of each file and one `postfix reload` for all of them. Per round,
provisioning N mailboxes onto a host with M costs about N hashes plus one pass over M entries;
with chunks of a few hundred the hashes dominate and throughput stays flat as the host fills.

When changes are seen: Dovecot re-reads the passwd-file by itself, but looks at most once a
second, so a new login can fail (and a deleted one still work) for up to a second. Postfix reads
texthash tables only when its processes start, so every change is followed by `postfix reload`
(also when the files were already right: the reload of an earlier attempt may have failed);
the reload is asynchronous and its processes restart within moments.

Passwords: SHA512-CRYPT (Dovecot's recommended crypt scheme, verified by every server without
extra modules) from libpass, the maintained fork of passlib: its pure-Python fallback keeps
working after the `crypt` module leaves the standard library (Python 3.13), and unlike
`doveadm pw` it needs no Dovecot on the worker's host and puts no password on a command line.
Rounds stay at the scheme's default 5000: the passwords are random (Mailfleet generates 20
characters), so their strength is in their entropy, while every SMTP and IMAP login pays for
the rounds.

Semantics of the protocol's calls here:

- `create_mailbox` of an existing address sets the password to the one given (unless it already
  matches) and returns the same mailbox: a job retried after a crash leaves the mailbox usable
  with the password Mailfleet stored. The provider user id is the address. `create_mailboxes`
  does the same for a list in one round (`create_mailbox` is a round of one), adding the
  mailboxes' domains as `prepare_domain` would.
- `suspend` adds Dovecot's `fail=y` extra field to the mailbox's passwd-file line (its last
  field), so IMAP logins and SMTP AUTH (Postfix asks Dovecot) fail although the password
  matches; mail still arrives and is kept. `resume` removes the field.
- `delete_mailbox` removes the login and the mailbox entry; the mail directory stays on disk
  for the operator's retention policy.
- `set_forwarding` replaces the domain's aliases: `@domain target` for the catch-all and
  `user@domain target` per forward. Postfix would send mail for existing mailboxes to a
  catch-all too, so every mailbox also has an identity alias (`user@domain user@domain`),
  which Postfix finds before the catch-all. A forward for an address that is a mailbox keeps a
  copy in the mailbox (`user@domain user@domain, target`).
"""

from __future__ import annotations

import errno
import re
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from passlib.hash import sha512_crypt

from mailfleet.config import Settings
from mailfleet.mailboxes.providers.base import (
    Connection,
    MailboxProviderError,
    NewMailbox,
    ProvisionedMailbox,
    checked_address,
    checked_domain,
)
from mailfleet.mailboxes.providers.mailmaps import locked, read_lines, replace_file, run_with_tty

SCHEME = "SHA512-CRYPT"
HASHER = sha512_crypt.using(rounds=5000)
HEADER = "# Written by Mailfleet (smtp mailbox provider); entries are kept, comments are not.\n"
# ASCII names only (IDNA is applied before a domain gets here); lower-case throughout because
# Postfix folds lookup keys and Dovecot lower-cases logins. Used with fullmatch: "$" would let a
# trailing newline into a table line.
LOCAL_PART = re.compile(r"[a-z0-9._+-]{1,64}")
# Forward targets may be anyone's address; only what would break a table line is refused.
TARGET_LOCAL_PART = re.compile(r"[^\s:,#@<>\"\\]{1,64}")
# Display names go into the passwd-file's gecos field: nothing that would end the field or line.
NAME_UNSAFE = re.compile(r"[:\x00-\x1f\x7f]")
# Dovecot's passdb extra field that fails the lookup in its auth process, so a matching password
# is refused for IMAP and for Postfix's SMTP AUTH (Dovecot SASL) alike: a suspended mailbox.
# (`nologin=y` would not do: only the IMAP login process honours it, SASL clients do not.)
SUSPENDED_FIELD = "fail=y"
# Errors no retry can fix: the files' location or permissions are wrong on this host.
PERMANENT_ERRNOS = {
    errno.EACCES,
    errno.EPERM,
    errno.ENOENT,
    errno.ENOTDIR,
    errno.EISDIR,
    errno.EROFS,
}


@dataclass
class _Files:
    """The four files as ordered mappings; keys are lower-case addresses or domains."""

    passwd: dict[str, str] = field(default_factory=dict)  # address -> whole line
    domains: dict[str, str] = field(default_factory=dict)
    mailboxes: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, list[str]] = field(default_factory=dict)

    def copy(self) -> _Files:
        # Strings are immutable: copying the containers is enough, and with tens of thousands
        # of entries far cheaper than copy.deepcopy.
        return _Files(
            passwd=dict(self.passwd),
            domains=dict(self.domains),
            mailboxes=dict(self.mailboxes),
            aliases={key: list(targets) for key, targets in self.aliases.items()},
        )


@dataclass(frozen=True)
class _Wanted:
    """One mailbox of a round, checked, with the password field decided before the lock."""

    password: str
    gecos: str
    seen: str | None  # the password field the lock-free read found (None: no entry)
    hashed: str | None  # the field to write while the entry is still `seen`; None: keep it


class SmtpProvider:
    name = "smtp"

    def __init__(self, settings: Settings) -> None:
        self._passwd_path = Path(settings.mail_passwd_file)
        self._domains_path = Path(settings.postfix_virtual_mailbox_domains)
        self._mailboxes_path = Path(settings.postfix_virtual_mailbox_maps)
        self._aliases_path = Path(settings.postfix_virtual_alias_maps)
        self._lock_path = self._passwd_path.with_name(self._passwd_path.name + ".lock")
        self._postfix_dir = settings.postfix_config_dir
        self._reload_timeout = settings.postfix_reload_timeout
        self._connection = Connection(
            smtp_host=settings.smtp_server_host or settings.mail_host,
            smtp_port=settings.smtp_submission_port,
            smtp_security=settings.smtp_security,
            imap_host=settings.imap_server_host or settings.mail_host,
            imap_port=settings.imap_port,
            imap_security=settings.imap_security,
        )

    # --- MailboxProvider ---

    def prepare_domain(self, domain: str) -> None:
        name = _domain(domain)
        with self._changing() as files:
            files.domains.setdefault(name, "OK")
        self._reload_postfix()

    def create_mailbox(self, mailbox: NewMailbox) -> ProvisionedMailbox:
        [result] = self.create_mailboxes([mailbox])
        if isinstance(result, MailboxProviderError):
            raise result
        return result

    def create_mailboxes(
        self, mailboxes: Sequence[NewMailbox]
    ) -> list[ProvisionedMailbox | MailboxProviderError]:
        results: list[ProvisionedMailbox | MailboxProviderError] = []
        checked: dict[str, tuple[str, str]] = {}  # address -> (password, gecos); the last wins
        for mailbox in mailboxes:
            try:
                address = _address(mailbox.address)
                if not mailbox.password:
                    raise MailboxProviderError("a mailbox needs a password", retryable=False)
            except MailboxProviderError as error:
                results.append(error)
                continue
            checked[address] = (mailbox.password, _gecos(mailbox.first_name, mailbox.last_name))
            results.append(
                ProvisionedMailbox(provider_user_id=address, connection=self._connection)
            )
        if not checked:
            return results
        with _file_errors():
            wanted = self._hash_outside_the_lock(checked)
            with self._changing() as files:
                for address, want in wanted.items():
                    files.domains.setdefault(_domain_of(address), "OK")
                    fields = _passwd_fields(files.passwd.get(address) or address)
                    fields[1] = _password_field(
                        want, fields[1] if address in files.passwd else None
                    )
                    fields[4] = want.gecos
                    files.passwd[address] = ":".join(fields)
                    files.mailboxes[address] = "OK"
                    files.aliases[address] = _with_identity(address, files.aliases.get(address, []))
        self._reload_postfix()
        return results

    def _hash_outside_the_lock(self, checked: Mapping[str, tuple[str, str]]) -> dict[str, _Wanted]:
        """Decide each password field from a lock-free read of the passwd-file.

        Hashing and verifying cost milliseconds each (SHA512-CRYPT, 5000 rounds), and the lock
        is shared by every worker on this host: a round of hundreds would hold it for seconds.
        The file is only ever replaced whole, so reading it without the lock sees one complete
        version; an entry that changed before the lock was taken is decided again under it.
        """
        seen: dict[str, str] = {}
        for line in read_lines(self._passwd_path):
            address = line.partition(":")[0].lower()
            if address in checked and not line.startswith("#"):
                seen[address] = _passwd_fields(line)[1]
        wanted = {}
        for address, (password, gecos) in checked.items():
            stored = seen.get(address)
            if stored is not None and _password_matches(stored, password):
                # A repeat (a job retried after a crash): the file keeps its line, salt and all.
                wanted[address] = _Wanted(password, gecos, stored, None)
            else:
                wanted[address] = _Wanted(password, gecos, stored, _new_field(password))
        return wanted

    def update_mailbox(self, address: str, *, first_name: str, last_name: str) -> None:
        key = _address(address)
        with self._changing() as files:
            line = files.passwd.get(key)
            if line is None:
                raise MailboxProviderError(f"no mailbox {key} on this host", retryable=False)
            fields = _passwd_fields(line)
            fields[4] = _gecos(first_name, last_name)
            files.passwd[key] = ":".join(fields)
        # Names matter to neither server's lookups: no reload.

    def rename_mailbox(self, old_address: str, new_address: str) -> str:
        """Move login, mailbox map entry and identity alias to the new address.

        The password hash moves with the entry, so the stored password keeps working. Mail
        already delivered stays in the old address's directory (Dovecot keys storage by
        address); the API says so nowhere else, so it is said here.
        """
        old, new = _address(old_address), _address(new_address)
        with self._changing() as files:
            if old not in files.passwd:
                if new in files.passwd:
                    return new  # done before
                raise MailboxProviderError(f"no mailbox {old} on this host", retryable=False)
            if new in files.passwd and new != old:
                raise MailboxProviderError(f"{new} is already a mailbox", retryable=False)
            fields = _passwd_fields(files.passwd.pop(old))
            fields[0] = new
            files.passwd[new] = ":".join(fields)
            files.mailboxes.pop(old, None)
            files.mailboxes[new] = "OK"
            others = [t for t in files.aliases.pop(old, []) if t != old]
            if others:
                files.aliases[old] = others
            files.aliases[new] = _with_identity(new, files.aliases.get(new, []))
        self._reload_postfix()
        return new

    def set_photo(self, address: str, image: bytes, content_type: str) -> None:
        # Postfix and Dovecot have no profile pictures; Mailfleet keeps the picture itself.
        return None

    def delete_mailbox(self, address: str) -> None:
        key = _address(address)
        with self._changing() as files:
            files.passwd.pop(key, None)
            files.mailboxes.pop(key, None)
            targets = [target for target in files.aliases.pop(key, []) if target != key]
            if targets:
                # Forwards set for the address outlive the mailbox, as set_forwarding made them.
                files.aliases[key] = targets
        self._reload_postfix()

    def suspend(self, address: str) -> None:
        key = _address(address)
        with self._changing() as files:
            line = files.passwd.get(key)
            if line is not None:  # none: no login to stop
                files.passwd[key] = _with_login(line, allowed=False)
        # Postfix asks Dovecot for every SMTP AUTH: the passwd-file is the one place, no reload.

    def resume(self, address: str) -> None:
        key = _address(address)
        with self._changing() as files:
            line = files.passwd.get(key)
            if line is None:
                raise MailboxProviderError(f"no mailbox {key} on this host", retryable=False)
            files.passwd[key] = _with_login(line, allowed=True)

    def set_forwarding(
        self, domain: str, *, catch_all: str | None, forwards: Mapping[str, str]
    ) -> None:
        name = _domain(domain)
        target_all = _target(catch_all) if catch_all else None
        wanted = {
            _address(f"{local}@{name}"): _target(target) for local, target in forwards.items()
        }
        with self._changing() as files:
            files.domains.setdefault(name, "OK")
            for key in [key for key in files.aliases if _domain_of(key) == name]:
                del files.aliases[key]
            for address in files.mailboxes:
                if _domain_of(address) == name:
                    files.aliases[address] = [address]
            if target_all is not None:
                files.aliases[f"@{name}"] = [target_all]
            for address, target in wanted.items():
                files.aliases[address] = [*files.aliases.get(address, []), target]
        self._reload_postfix()

    # --- files ---

    @contextmanager
    def _changing(self) -> Iterator[_Files]:
        """Under the lock: read the files, let the caller change them, write what changed."""
        with _file_errors(), locked(self._lock_path):
            before = self._read()
            files = before.copy()
            yield files
            self._write(before, files)

    def _read(self) -> _Files:
        passwd = {}
        for line in read_lines(self._passwd_path):
            if line.strip() and not line.startswith("#"):
                passwd[line.partition(":")[0].lower()] = line
        return _Files(
            passwd=passwd,
            domains=_read_table(self._domains_path),
            mailboxes=_read_table(self._mailboxes_path),
            aliases={
                key: [t.strip() for t in value.split(",") if t.strip()]
                for key, value in _read_table(self._aliases_path).items()
            },
        )

    def _write(self, before: _Files, after: _Files) -> None:
        # Postfix maps first, the passwd-file last: Postfix sees no change before its reload
        # anyway, and a crash in between leaves what a repeat of the call completes.
        tables = [
            (self._domains_path, before.domains, after.domains),
            (self._mailboxes_path, before.mailboxes, after.mailboxes),
            (self._aliases_path, _joined(before.aliases), _joined(after.aliases)),
        ]
        for path, old, new in tables:
            if old != new or not path.exists():
                text = HEADER + "".join(f"{key} {value}\n" for key, value in new.items())
                replace_file(path, text, new_mode=0o644)
        if before.passwd != after.passwd or not self._passwd_path.exists():
            text = HEADER + "".join(f"{line}\n" for line in after.passwd.values())
            # Hashes: readable by the owner and group (Dovecot's) only, when new.
            replace_file(self._passwd_path, text, new_mode=0o640, strictly_newer=True)

    # --- Postfix ---

    def _reload_postfix(self) -> None:
        if not self._postfix_dir:
            return
        command = ["postfix", "-c", self._postfix_dir, "reload"]
        try:
            code, output = run_with_tty(command, self._reload_timeout)
        except subprocess.TimeoutExpired as error:
            raise MailboxProviderError(
                f"postfix reload did not finish in {self._reload_timeout} s", retryable=True
            ) from error
        except OSError as error:
            raise MailboxProviderError(
                f"cannot run postfix reload: {error}", retryable=False
            ) from error
        if code != 0:
            # Postfix stopped (or restarting) will read the files when it starts: worth another
            # try. Anything else is a configuration or permission problem for an operator.
            retryable = "not running" in output
            raise MailboxProviderError(
                f"postfix reload exited with {code}: {output or 'no output'}", retryable=retryable
            )


# --- parsing and rendering ---


def _read_table(path: Path) -> dict[str, str]:
    """A texthash table: "key value" lines; a line starting with whitespace continues one."""
    table: dict[str, str] = {}
    last: str | None = None
    for line in read_lines(path):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[0].isspace() and last is not None:
            table[last] = f"{table[last]} {line.strip()}"
            continue
        key, *value = line.split(None, 1)
        last = key.lower()
        table[last] = value[0].strip() if value else ""
    return table


def _joined(aliases: Mapping[str, list[str]]) -> dict[str, str]:
    return {key: ", ".join(targets) for key, targets in aliases.items() if targets}


def _passwd_fields(line: str) -> list[str]:
    # user:password:uid:gid:gecos:home:shell:extra_fields (Dovecot's passwd-file format).
    fields = line.split(":", 7)
    return fields + [""] * (8 - len(fields))


def _password_matches(stored: str, password: str) -> bool:
    """Whether the passwd-file's password field is a hash of `password` in our scheme."""
    prefix = f"{{{SCHEME}}}"
    if not stored.startswith(prefix):
        return False
    try:
        return bool(HASHER.verify(password, stored[len(prefix) :]))
    except ValueError:
        # Not a hash of this scheme after all (edited by hand): replace it.
        return False


def _new_field(password: str) -> str:
    return f"{{{SCHEME}}}{HASHER.hash(password)}"


def _password_field(want: _Wanted, current: str | None) -> str:
    """The password field to write, given what the passwd-file holds under the lock now."""
    if current == want.seen:
        # As the lock-free read found it: the decision made then stands.
        if want.hashed is not None:
            return want.hashed
        if current is not None:
            return current
    elif current is not None and _password_matches(current, want.password):
        # Changed since (another worker provisioned the same address): decided again. Rare, so
        # verifying under the lock costs nobody much.
        return current
    return want.hashed or _new_field(want.password)


def _with_login(line: str, *, allowed: bool) -> str:
    """The passwd-file line with the suspension's extra field dropped, or added."""
    fields = _passwd_fields(line)
    key = SUSPENDED_FIELD.partition("=")[0]
    extra = [item for item in fields[7].split() if item.partition("=")[0] != key]
    if not allowed:
        extra.append(SUSPENDED_FIELD)
    fields[7] = " ".join(extra)
    return ":".join(fields)


def _with_identity(address: str, targets: list[str]) -> list[str]:
    return [address, *(target for target in targets if target != address)]


def _gecos(first_name: str, last_name: str) -> str:
    return NAME_UNSAFE.sub("", f"{first_name} {last_name}".strip())


def _domain_of(key: str) -> str:
    return key.rpartition("@")[2]


def _domain(value: str) -> str:
    return checked_domain(value)


def _address(value: str) -> str:
    return checked_address(value, LOCAL_PART)


def _target(value: str) -> str:
    local, at, domain = value.strip().rpartition("@")
    if not at or not TARGET_LOCAL_PART.fullmatch(local):
        raise MailboxProviderError(f"not a forwarding address: {value!r}", retryable=False)
    return f"{local}@{_domain(domain)}"


@contextmanager
def _file_errors() -> Iterator[None]:
    """File system errors as provider errors: wrong paths or permissions need an operator."""
    try:
        yield
    except MailboxProviderError:
        raise
    except OSError as error:
        retryable = error.errno not in PERMANENT_ERRNOS
        raise MailboxProviderError(
            f"mail server files: {error.strerror or error} ({error.filename or ''})",
            retryable=retryable,
        ) from error
