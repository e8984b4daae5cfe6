"""Exports: a workspace's accounts at cold-email sequencers and the jobs that push finished
mailboxes into them (issue 13)."""
