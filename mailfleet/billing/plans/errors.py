"""The errors of plans, each with its HTTP status and stable code."""

from __future__ import annotations

from mailfleet.exceptions import Conflict, NotFound, Unprocessable


class PlanNotFound(NotFound):
    code = "plan_not_found"


class PlanRetired(Conflict):
    code = "plan_retired"


class PlanExists(Conflict):
    code = "plan_exists"


class InvalidPlan(Unprocessable):
    code = "invalid_plan"
