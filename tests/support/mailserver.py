"""The private Postfix + Dovecot pair lives in the package (the demo runs it too)."""

from mailfleet.demo.mailserver import HOST, HOSTNAME, MAIL_USER, MailServer, missing

__all__ = ["HOST", "HOSTNAME", "MAIL_USER", "MailServer", "missing"]
