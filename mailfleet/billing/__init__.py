"""Billing: what a workspace may hold (allocations of mailbox slots) and what it holds (slots).

Subscriptions, the wallet and plans grow here; mailboxes and orders read it, never the reverse.
"""
