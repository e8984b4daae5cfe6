"""Quick setups: domains bought, then their mailboxes placed and exported once ACTIVE."""
