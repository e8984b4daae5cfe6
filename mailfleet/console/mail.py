"""Sending the console's password-reset mail over SMTP (the deployment's relay, settings
`console_mail_*`). Called after the link's transaction has committed, never inside one; a mail
that cannot be sent is logged without its link (the user asks again)."""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from mailfleet.config import Settings

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 10
SUBJECT = "Set your Mailfleet password"


def enabled(settings: Settings) -> bool:
    return bool(settings.console_mail_host)


def public_url(settings: Settings) -> str:
    return settings.console_public_url or f"http://{settings.host}:{settings.port}"


def reset_message(settings: Settings, to: str, link: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.console_mail_from
    message["To"] = to
    message["Subject"] = SUBJECT
    message.set_content(
        "Someone asked to set the password of this Mailfleet account.\n\n"
        f"Set it here within the hour (the link works once):\n{link}\n\n"
        "If it was not you, ignore this mail: your password stays as it is.\n"
    )
    return message


def send_reset(settings: Settings, to: str, link: str) -> None:
    try:
        with smtplib.SMTP(
            settings.console_mail_host, settings.console_mail_port, timeout=TIMEOUT_SECONDS
        ) as client:
            if settings.console_mail_starttls:
                client.starttls()
            if settings.console_mail_username:
                password = settings.console_mail_password.get_secret_value()
                client.login(settings.console_mail_username, password)
            client.send_message(reset_message(settings, to, link))
    except (OSError, smtplib.SMTPException) as exc:
        # Never the link: it sets the password.
        log.warning("password-reset mail to %s not sent: %s", to, type(exc).__name__)
