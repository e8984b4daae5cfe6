"""Local fakes of the sequencers' account APIs (tests/exports, bench)."""
