"""The Postfix/Dovecot mailbox provider against real servers (tests/support/mailserver.py).

Each test has its own domain on the session's mail server. The servers see the provider's
changes within about a second, so checks that follow a change poll (`mail_server.wait_for_*`).
"""

from __future__ import annotations

import imaplib
import shutil
import smtplib
import threading
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from mailfleet.config import Settings
from mailfleet.mailboxes.providers.base import MailboxProviderError, NewMailbox
from mailfleet.mailboxes.providers.smtp import SmtpProvider
from tests.support.mailserver import HOST, MailServer

PASSWORD = "Correct-horse-42!batt"


@pytest.fixture
def provider(mail_overrides: dict[str, Any]) -> SmtpProvider:
    return SmtpProvider(Settings(**mail_overrides))


@pytest.fixture
def domain(provider: SmtpProvider, unique_domain: Callable[[str], str]) -> str:
    name = unique_domain("mail")
    provider.prepare_domain(name)
    return name


def new(
    address: str, password: str = PASSWORD, first: str = "Ada", last: str = "Lovelace"
) -> NewMailbox:
    return NewMailbox(address=address, first_name=first, last_name=last, password=password)


def lines_for(path: Path, key: str) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.split(":")[0] == key]


def send(client: smtplib.SMTP, sender: str, recipient: str, subject: str) -> None:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message.set_content(f"body of {subject}\n")
    client.send_message(message)


def inbox_subjects(server: MailServer, address: str, password: str = PASSWORD) -> list[str]:
    return [str(message["Subject"]) for message in server.messages(address, password)]


def test_two_mailboxes_log_in_and_mail_each_other(
    provider: SmtpProvider, mail_server: MailServer, domain: str
) -> None:
    alice, bob = f"alice@{domain}", f"bob@{domain}"
    created = provider.create_mailbox(new(alice, "Alice-password-1"))
    provider.create_mailbox(new(bob, "Bob-password-22"))

    assert created.provider_user_id == alice
    assert created.connection.smtp_host == HOST
    assert created.connection.smtp_port == mail_server.submission_port
    assert created.connection.imap_port == mail_server.imap_port
    for address, password in ((alice, "Alice-password-1"), (bob, "Bob-password-22")):
        mail_server.wait_for_login(address, password)
        with mail_server.submission(address, password) as client:
            assert client.noop()[0] == 250

    mail_server.wait_for_recipient(bob)
    with mail_server.submission(alice, "Alice-password-1") as client:
        send(client, alice, bob, "hello bob")
    message = mail_server.wait_for_message(bob, "Bob-password-22", "hello bob")
    assert message["From"] == alice
    assert "body of hello bob" in message.get_payload()


def test_wrong_password_is_refused(
    provider: SmtpProvider, mail_server: MailServer, domain: str
) -> None:
    address = f"carol@{domain}"
    provider.create_mailbox(new(address))
    mail_server.wait_for_login(address, PASSWORD)

    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        mail_server.imap(address, PASSWORD + "x")
    with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
        mail_server.submission(address, PASSWORD + "x")
    assert refused.value.smtp_code == 535


def test_create_again_keeps_one_login_with_the_latest_password(
    provider: SmtpProvider, mail_server: MailServer, domain: str
) -> None:
    address = f"dave@{domain}"
    first = provider.create_mailbox(new(address))
    mail_server.wait_for_login(address, PASSWORD)
    before = mail_server.passwd_file.read_text()

    # A retried job with the same password: nothing to change, not even the salt.
    assert provider.create_mailbox(new(address)) == first
    assert mail_server.passwd_file.read_text() == before

    # A retried job whose password differs (same length, same second: Dovecot still notices).
    other = PASSWORD[::-1]
    assert provider.create_mailbox(new(address, other)) == first
    assert len(lines_for(mail_server.passwd_file, address)) == 1
    assert mail_server.virtual_mailbox_maps.read_text().count(f"{address} ") == 1
    mail_server.wait_for_login(address, other)
    assert not mail_server.login_works(address, PASSWORD)


def test_update_changes_the_name_and_keeps_the_login(
    provider: SmtpProvider, mail_server: MailServer, domain: str
) -> None:
    address = f"erin@{domain}"
    provider.create_mailbox(new(address, first="Erin", last="Old"))
    provider.update_mailbox(address, first_name="Erin", last_name="New:Name")

    (line,) = lines_for(mail_server.passwd_file, address)
    assert line.split(":")[4] == "Erin NewName"
    mail_server.wait_for_login(address, PASSWORD)
    with pytest.raises(MailboxProviderError) as missing:
        provider.update_mailbox(f"nobody@{domain}", first_name="A", last_name="B")
    assert missing.value.retryable is False


def test_catch_all_takes_unknown_addresses_only(
    provider: SmtpProvider, mail_server: MailServer, domain: str
) -> None:
    target, other = f"target@{domain}", f"other@{domain}"
    provider.create_mailbox(new(target))
    provider.create_mailbox(new(other))
    provider.set_forwarding(domain, catch_all=target, forwards={"sales": other})
    unknown = f"nobody-{domain.split('.')[0]}@{domain}"
    mail_server.wait_for_recipient(unknown)

    with mail_server.smtp() as client:
        send(client, "someone@outside.test", unknown, "to the catch-all")
        send(client, "someone@outside.test", other, "to other")
        send(client, "someone@outside.test", f"sales@{domain}", "to sales")
    mail_server.wait_for_message(target, PASSWORD, "to the catch-all")
    mail_server.wait_for_message(other, PASSWORD, "to other")
    mail_server.wait_for_message(other, PASSWORD, "to sales")
    # The mailbox's identity alias wins over the catch-all: "to other" did not go to target.
    assert inbox_subjects(mail_server, target) == ["to the catch-all"]

    provider.set_forwarding(domain, catch_all=None, forwards={})
    mail_server.wait_for(lambda: not mail_server.accepts_recipient(unknown), "no catch-all")
    mail_server.wait_for(lambda: not mail_server.accepts_recipient(f"sales@{domain}"), "sales")
    assert mail_server.accepts_recipient(other)


def test_forward_of_a_mailbox_keeps_a_copy_and_outlives_it(
    provider: SmtpProvider, mail_server: MailServer, domain: str
) -> None:
    owner, boss = f"owner@{domain}", f"boss@{domain}"
    provider.create_mailbox(new(owner))
    provider.create_mailbox(new(boss))
    provider.set_forwarding(domain, catch_all=None, forwards={"owner": boss, "info": boss})
    aliases = mail_server.virtual_alias_maps.read_text()
    assert f"{owner} {owner}, {boss}\n" in aliases
    # "info" exists only as an alias: once Postfix takes it, the new aliases are in effect.
    mail_server.wait_for_recipient(f"info@{domain}")

    with mail_server.smtp() as client:
        send(client, "someone@outside.test", owner, "copied")
    mail_server.wait_for_message(owner, PASSWORD, "copied")
    mail_server.wait_for_message(boss, PASSWORD, "copied")

    provider.delete_mailbox(owner)
    assert f"{owner} {boss}\n" in mail_server.virtual_alias_maps.read_text()


def test_delete_makes_login_fail(
    provider: SmtpProvider, mail_server: MailServer, domain: str
) -> None:
    address = f"frank@{domain}"
    provider.create_mailbox(new(address))
    mail_server.wait_for_login(address, PASSWORD)

    provider.delete_mailbox(address)
    mail_server.wait_for(lambda: not mail_server.login_works(address, PASSWORD), "refused")
    with pytest.raises(smtplib.SMTPAuthenticationError):
        mail_server.submission(address, PASSWORD)
    mail_server.wait_for(lambda: not mail_server.accepts_recipient(address), "rcpt rejected")
    assert lines_for(mail_server.passwd_file, address) == []
    assert address not in mail_server.virtual_alias_maps.read_text()
    provider.delete_mailbox(address)  # already gone: not an error


def test_rename_moves_the_login_and_the_address(
    provider: SmtpProvider, mail_server: MailServer, domain: str
) -> None:
    old, renamed = f"gina@{domain}", f"georgina@{domain}"
    provider.create_mailbox(new(old))
    mail_server.wait_for_login(old, PASSWORD)

    assert provider.rename_mailbox(old, renamed) == renamed
    mail_server.wait_for_login(renamed, PASSWORD)
    mail_server.wait_for(lambda: not mail_server.login_works(old, PASSWORD), "old login refused")
    mail_server.wait_for_recipient(renamed)
    assert lines_for(mail_server.passwd_file, old) == []
    assert provider.rename_mailbox(old, renamed) == renamed  # done already: fine
    with pytest.raises(MailboxProviderError) as missing:
        provider.rename_mailbox(f"nobody@{domain}", f"someone@{domain}")
    assert missing.value.retryable is False


def test_prepare_domain_twice(provider: SmtpProvider, mail_server: MailServer, domain: str) -> None:
    provider.prepare_domain(domain)
    provider.prepare_domain(domain.upper() + ".")

    listed = mail_server.virtual_mailbox_domains.read_text().split()
    assert listed.count(domain) == 1
    # The domain is ours: an unknown user is "unknown" (550), not a relay attempt (554).
    mail_server.wait_for(lambda: mail_server.rcpt(f"nobody@{domain}")[0] == 550, "domain")
    assert b"User unknown in virtual mailbox table" in mail_server.rcpt(f"nobody@{domain}")[1]


def test_two_threads_creating_at_once_lose_none(
    provider: SmtpProvider, mail_server: MailServer, domain: str
) -> None:
    per_thread = 8
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def create(prefix: str) -> None:
        try:
            start.wait()
            for number in range(per_thread):
                provider.create_mailbox(new(f"{prefix}{number}@{domain}"))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=create, args=(prefix,)) for prefix in ("left", "right")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert errors == []
    addresses = [f"{p}{n}@{domain}" for p in ("left", "right") for n in range(per_thread)]
    for address in addresses:
        assert len(lines_for(mail_server.passwd_file, address)) == 1
        assert f"{address} OK\n" in mail_server.virtual_mailbox_maps.read_text()
        assert f"{address} {address}\n" in mail_server.virtual_alias_maps.read_text()
    mail_server.wait_for(
        lambda: all(mail_server.login_works(address, PASSWORD) for address in addresses),
        "every login",
    )


# --- errors: which ones a retry can fix ---


def test_unusable_file_locations_are_permanent(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir"
    provider = SmtpProvider(
        Settings(
            mail_passwd_file=missing / "passwd",
            postfix_virtual_mailbox_domains=missing / "domains",
            postfix_virtual_mailbox_maps=missing / "mailboxes",
            postfix_virtual_alias_maps=missing / "aliases",
            postfix_config_dir="",
        )
    )
    with pytest.raises(MailboxProviderError) as failed:
        provider.create_mailbox(new("a@example.com"))
    assert failed.value.retryable is False
    assert "no-such-dir" in str(failed.value)


def _provider_in(tmp_path: Path, postfix_config_dir: str) -> SmtpProvider:
    return SmtpProvider(
        Settings(
            mail_passwd_file=tmp_path / "passwd",
            postfix_virtual_mailbox_domains=tmp_path / "domains",
            postfix_virtual_mailbox_maps=tmp_path / "mailboxes",
            postfix_virtual_alias_maps=tmp_path / "aliases",
            postfix_config_dir=postfix_config_dir,
        )
    )


def test_reload_of_a_stopped_postfix_is_retryable(mail_server: MailServer, tmp_path: Path) -> None:
    # A configuration of its own whose master is not running (mail_server only makes sure
    # Postfix is installed).
    config = tmp_path / "postfix"
    data = tmp_path / "data"
    for directory in (config, data, tmp_path / "queue"):
        directory.mkdir()
    shutil.chown(data, "postfix", "postfix")
    (config / "main.cf").write_text(
        f"compatibility_level = 3.6\nqueue_directory = {tmp_path}/queue\n"
        f"data_directory = {data}\nmeta_directory = /etc/postfix\n"
    )
    provider = _provider_in(tmp_path, str(config))

    with pytest.raises(MailboxProviderError, match="not running") as failed:
        provider.prepare_domain("example.com")
    assert failed.value.retryable is True
    # The files were written first: the next successful reload will find them.
    assert (tmp_path / "domains").read_text().splitlines()[-1] == "example.com OK"


def test_broken_postfix_configuration_is_permanent(mail_server: MailServer, tmp_path: Path) -> None:
    provider = _provider_in(tmp_path, str(tmp_path / "missing-config"))
    with pytest.raises(MailboxProviderError, match="main.cf") as failed:
        provider.prepare_domain("example.com")
    assert failed.value.retryable is False


def test_invalid_names_are_permanent(tmp_path: Path) -> None:
    provider = _provider_in(tmp_path, "")
    for call in (
        lambda: provider.create_mailbox(new("no-at-sign")),
        lambda: provider.create_mailbox(new("a b@example.com")),
        lambda: provider.prepare_domain("bad_domain..com"),
        lambda: provider.set_forwarding("example.com", catch_all="x@y.com\nz", forwards={}),
        lambda: provider.set_forwarding("example.com", catch_all=None, forwards={"a": "b,c@d.com"}),
    ):
        with pytest.raises(MailboxProviderError) as failed:
            call()
        assert failed.value.retryable is False
    assert not (tmp_path / "passwd").exists()


def test_every_passwd_change_moves_its_mtime_by_whole_seconds(tmp_path: Path) -> None:
    # Dovecot compares mtime in whole seconds and size; these three versions are all the same
    # size and written within one second, yet each must look new to it.
    provider = _provider_in(tmp_path, "")
    mtimes = []
    for password in ("Password-0001", "Password-0002", "Password-0003"):
        provider.create_mailbox(new("a@example.com", password))
        mtimes.append(int((tmp_path / "passwd").stat().st_mtime))
    assert mtimes[0] < mtimes[1] < mtimes[2]
