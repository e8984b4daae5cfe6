"""Automated mailbox providers (Postfix/Dovecot, Google, Microsoft), one module each."""
