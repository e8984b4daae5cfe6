"""Mailboxes scheduled for creation at a subscription's next renewal."""
