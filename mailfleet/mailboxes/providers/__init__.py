"""Automated mailbox providers (Postfix/Dovecot, Google Workspace, Microsoft 365), one module each."""
