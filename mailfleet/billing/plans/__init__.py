"""Plans as data: versions under a stable lookup key, seeded from the Zapmail table."""
