"""Errors of scheduled mailbox creation, each with its HTTP status and stable code."""

from __future__ import annotations

from mailfleet.exceptions import Conflict, NotFound, Unprocessable


class ScheduledMailboxNotFound(NotFound):
    code = "scheduled_mailbox_not_found"


class NoSubscriptionForType(Conflict):
    code = "no_subscription_for_type"


class NoSlotAtRenewal(Conflict):
    code = "no_slot_at_renewal"


class ScheduleClosed(Conflict):
    """Created, skipped or removed already, or its billing date has come."""

    code = "scheduled_mailbox_closed"


class UsernameScheduled(Conflict):
    code = "username_scheduled"


class MailboxTypeRequired(Unprocessable):
    code = "mailbox_type_required"
