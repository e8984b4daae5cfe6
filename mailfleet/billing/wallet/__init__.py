"""The wallet: a balance in integer cents per workspace and its append-only ledger."""
