"""The InboxedUp API (../shared/seeds/inboxedup-api.txt) served under /inboxedup."""
