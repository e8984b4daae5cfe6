"""Domain swaps: a burned domain replaced by another, its mailboxes remade there."""
