"""Invitations to a workspace: `endpoints`, `service` (the rules) and `schemas`."""
