"""The errors of subscriptions and add-on slots, each with its HTTP status and stable code."""

from __future__ import annotations

from mailfleet.exceptions import Conflict, NotFound, Unprocessable


class SubscriptionNotFound(NotFound):
    code = "subscription_not_found"


class SubscriptionNotActive(Conflict):
    code = "subscription_not_active"


class CancellationScheduled(Conflict):
    """Cancelling a subscription whose cancellation is scheduled already."""

    code = "cancellation_already_scheduled"


class CancellationNotScheduled(Conflict):
    code = "cancellation_not_scheduled"


class BelowUsage(Conflict):
    """A plan change that would leave fewer slots than the mailboxes hold."""

    code = "downgrade_below_usage"


class SamePlan(Unprocessable):
    code = "same_plan"


class AddonTypeNotCovered(Unprocessable):
    code = "addon_type_not_covered"


class AddonNotFound(NotFound):
    code = "addon_not_found"
