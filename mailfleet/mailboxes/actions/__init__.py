"""Actions on one mailbox beyond editing it: its authenticator code, its picture, a retry."""
