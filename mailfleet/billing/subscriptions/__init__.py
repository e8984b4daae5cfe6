"""Subscriptions: a plan bought by a workspace, its periods, add-on slots and renewals."""
