"""One error base class: each error knows its HTTP status and a stable machine code.

The native API renders them as RFC 9457 problem details (`exception_handlers`); compat surfaces
render the same errors in their own envelopes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class FieldError:
    field: str
    code: str
    detail: str


class MailfleetError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    title: ClassVar[str] = "Internal server error"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        field: str | None = None,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code  # type: ignore[misc]
        self.field = field
        self.errors = errors or []
        self.headers = headers or {}


class BadRequest(MailfleetError):
    status = 400
    code = "bad_request"
    title = "Bad request"


class Unauthorized(MailfleetError):
    status = 401
    code = "unauthorized"
    title = "Unauthorized"

    def __init__(self, detail: str = "A valid API key is required.", **kwargs: object) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"}, **kwargs)  # type: ignore[arg-type]


class Forbidden(MailfleetError):
    status = 403
    code = "forbidden"
    title = "Forbidden"


class NotFound(MailfleetError):
    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(MailfleetError):
    """The request is well-formed but conflicts with the current state of a resource."""

    status = 409
    code = "conflict"
    title = "Conflict"


class Unprocessable(MailfleetError):
    """The request is well-formed JSON but a field's value is not acceptable."""

    status = 422
    code = "validation_error"
    title = "Validation error"


class RateLimited(MailfleetError):
    status = 429
    code = "rate_limited"
    title = "Too many requests"


class ServiceUnavailable(MailfleetError):
    status = 503
    code = "unavailable"
    title = "Service unavailable"


class BadGateway(MailfleetError):
    """A provider Mailfleet depends on (DNS, mailbox) refused or failed the change."""

    status = 502
    code = "provider_error"
    title = "Provider error"


class RequestTooLarge(MailfleetError):
    """The request body is over the route's size limit (see kit.bodylimit)."""

    status = 413
    code = "request_too_large"
    title = "Request too large"


# --- the registry of stable codes ------------------------------------------------------------
#
# Every code an error may carry, with the HTTP statuses the native API answers it with and what
# it means. A surface maps each code to its own status and message (a compat API's documented
# wording); tests/surfaces/test_error_codes.py fails when a code raised anywhere is missing here.


@dataclass(frozen=True)
class ErrorCode:
    code: str
    statuses: tuple[int, ...]
    meaning: str


def _codes(package: str, entries: dict[str, tuple[tuple[int, ...], str]]) -> dict[str, ErrorCode]:
    # `package` says where the code is raised; it keeps each package's codes together below.
    del package
    return {code: ErrorCode(code, statuses, text) for code, (statuses, text) in entries.items()}


ERROR_CODES: dict[str, ErrorCode] = {
    **_codes(
        "http",
        {
            "bad_request": ((400,), "The request is malformed."),
            "malformed_json": ((400,), "The body is not valid JSON."),
            "unauthorized": ((401,), "A valid API key is required."),
            "forbidden": ((403,), "The caller may not do this."),
            "not_found": ((404,), "No such resource or route."),
            "method_not_allowed": ((405,), "The route does not take this method."),
            "conflict": ((409,), "The request conflicts with the resource's state."),
            "payload_too_large": ((413,), "The body is too large."),
            "request_too_large": ((413,), "The body is over the route's size limit."),
            "unsupported_media_type": ((415,), "The body's content type is not accepted."),
            "validation_error": ((422,), "A field's value is not acceptable."),
            "rate_limited": ((429,), "The key's rate limit is used up; retry after Retry-After."),
            "internal_error": ((500,), "An unexpected error; it is logged."),
            "provider_error": ((502,), "A provider refused or failed the change."),
            "unavailable": ((503,), "A service Mailfleet needs is unavailable."),
            "error": ((400,), "Another HTTP error."),
        },
    ),
    **_codes(
        "auth",
        {
            "missing_credentials": ((401,), "No API key was sent."),
            "invalid_api_key": ((401,), "The API key is unknown or revoked."),
            "invalid_workspace_id": ((400,), "The workspace header is not a workspace id."),
            "workspace_not_found": ((404,), "No such workspace for the caller."),
            "insufficient_role": ((403,), "The caller's role is too low."),
            "key_pinned": ((403,), "The key is pinned to another workspace."),
            "operator_required": ((403,), "Only operators may do this."),
        },
    ),
    **_codes(
        "idempotency",
        {
            "invalid_idempotency_key": ((400,), "The idempotency key is empty or too long."),
            "idempotency_key_reused": ((422,), "The key was used with another request."),
            "idempotency_key_in_progress": ((409,), "The key's first request is still running."),
        },
    ),
    **_codes(
        "account, api_keys, workspaces",
        {
            "user_exists": ((409,), "A user with this email exists."),
            "api_key_not_found": ((404,), "No such API key."),
            "member_not_found": ((404,), "No such member."),
            "last_owner": ((409,), "A workspace keeps at least one owner."),
            "workspace_name_taken": ((409,), "The workspace name is taken."),
            "workspace_not_empty": ((409,), "The workspace still holds resources."),
            "already_member": ((409,), "The user is a member already."),
            "invitation_pending": ((409,), "An invitation is pending for this email."),
            "invitation_not_found": ((404,), "No such invitation."),
            "invitation_expired": ((409,), "The invitation has expired."),
            "invitation_not_pending": ((409,), "The invitation was answered already."),
        },
    ),
    **_codes(
        "billing",
        {
            "invalid_slots": ((422,), "Slot counts are not acceptable."),
            "quota_exceeded": ((409,), "Not enough free slots of the type."),
            "insufficient_funds": ((402,), "The wallet is short; the detail names by how much."),
            "invalid_amount": ((422,), "Amounts are positive whole numbers of cents."),
            "currency_mismatch": ((422,), "The wallet holds another currency."),
            "wallet_not_found": ((404,), "No such wallet."),
            "subscription_status_conflict": ((409,), "The subscription's status forbids this."),
            "payments_not_configured": ((409,), "No payment provider: operators credit wallets."),
            "payment_provider_error": ((502,), "The payment provider refused or failed the call."),
            "payment_method_not_found": ((404,), "No such saved card."),
            "payment_not_found": ((404,), "No such payment."),
            "payment_status_conflict": ((409,), "The payment's status does not allow this."),
            "invalid_webhook_signature": ((400,), "The webhook's signature is missing or wrong."),
            "scheduled_mailbox_not_found": ((404,), "No such scheduled mailbox."),
            "no_subscription_for_type": ((409,), "No renewing subscription covers the type."),
            "no_slot_at_renewal": ((409,), "No slot of the type will be free at the renewal."),
            "scheduled_mailbox_closed": ((409,), "Created, skipped or removed, or due already."),
            "username_scheduled": ((409,), "The username is scheduled on the domain already."),
            "mailbox_type_required": ((422,), "The domain has no mailbox type; name one."),
            "plan_not_found": ((404,), "No plan has this lookup key."),
            "plan_retired": ((409,), "The plan is retired: no new purchases."),
            "plan_exists": ((409,), "A plan has this lookup key already."),
            "invalid_plan": ((422,), "A plan's slots, prices or types are not acceptable."),
            "subscription_not_found": ((404,), "No such subscription."),
            "subscription_not_active": ((409,), "The subscription is not ACTIVE."),
            "cancellation_already_scheduled": ((409,), "The subscription is cancelled already."),
            "cancellation_not_scheduled": ((409,), "No cancellation is scheduled to revert."),
            "downgrade_below_usage": ((409,), "The new plan has fewer slots than are held."),
            "same_plan": ((422,), "The subscription is on this plan already."),
            "addon_type_not_covered": ((422,), "The subscription's plan does not cover the type."),
            "addon_not_found": ((404,), "No such add-on on the subscription."),
            "invoice_not_found": ((404,), "No such invoice."),
        },
    ),
    **_codes(
        "domains",
        {
            "domain_not_found": ((404,), "No such domain."),
            "domain_batch_not_found": ((404,), "No such domain batch."),
            "domain_removed": ((409,), "The domain is removed."),
            "domain_status_conflict": ((409,), "The domain's status does not allow this."),
            "invalid_cursor": ((400,), "The pagination cursor is not valid."),
            "too_many_domains": ((422,), "Too many domains in one batch."),
            "no_domain_accepted": ((422,), "No domain of the batch was accepted."),
            "forwarding_url_required": ((422,), "Forwarding needs a URL."),
            "mailbox_type_fixed": ((409,), "The domain's mailbox type is fixed by its mailboxes."),
            "domain_has_mailboxes": ((409,), "The domain still has mailboxes."),
            "invalid_username": ((422,), "The username breaks the username rule."),
            "domain_purchased": ((409,), "A domain bought here cannot be removed."),
            "auto_renew_not_applicable": (
                (409,),
                "Auto-renew applies to active domains bought here.",
            ),
            "client_id_google_only": ((400,), "A Google client id is for Google domains."),
            "connection_completed": ((409,), "The domain is connected already."),
            "quick_setup_status_conflict": (
                (409,),
                "The quick setup's status does not allow this.",
            ),
            "quick_setup_not_found": ((404,), "No such quick setup."),
            "nothing_to_swap": ((409,), "The domain has no ACTIVE mailbox to swap."),
            "swap_same_domain": ((422,), "A domain cannot be swapped for itself."),
            "swap_target_unusable": ((409,), "The new domain is not on its way to ACTIVE."),
            "swap_target_has_mailboxes": ((409,), "The new domain has mailboxes already."),
            "swap_type_mismatch": ((409,), "The new domain is set up for another mailbox type."),
            "swap_target_refused": ((422,), "The new domain's name cannot be connected."),
            "domain_swap_in_progress": ((409,), "A swap on one of the domains is under way."),
            "domain_swap_status_conflict": ((409,), "The swap cannot make that move."),
            "domain_swap_not_found": ((404,), "No such domain swap."),
        },
    ),
    **_codes(
        "dns",
        {
            "dns_record_not_found": ((404,), "No such DNS record."),
            "record_name_outside_zone": ((422,), "The record's name is outside the zone."),
            "invalid_record_name": ((422,), "Not a valid DNS name."),
            "unsupported_record_type": ((422,), "The record type is not supported."),
            "priority_required": ((422,), "MX and SRV records need a priority."),
            "cname_at_apex": ((422,), "A CNAME cannot sit at the zone apex."),
            "managed_record": ((409, 422), "The record is managed by Mailfleet."),
            "invalid_dns_settings": ((422,), "The domain's DNS settings make no valid template."),
            "dns_provider_error": ((502,), "The DNS provider refused the change."),
            "invalid_record_content": ((422,), "The record's data is not valid for its type."),
            "duplicate_record": ((409,), "The record exists already."),
            "cname_conflict": ((409,), "A CNAME cannot share its name."),
            "spf_exists": ((409,), "The name has an SPF record already."),
            "zone_not_created": ((404,), "The domain has no zone yet."),
        },
    ),
    **_codes(
        "exports",
        {
            "export_account_not_found": ((404,), "No such sequencer account."),
            "export_not_found": ((404,), "No such export."),
            "invalid_export_account": ((422,), "The sequencer account's fields are not valid."),
            "export_account_required": ((422,), "Name the account: none or several for the app."),
            "export_app_not_supported": ((422,), "The app cannot do this (yet)."),
            "no_mailbox_selected": ((422,), "The selection holds no mailbox."),
            "export_limit_reached": ((429,), "Every mailbox was exported as often as allowed."),
            "export_app_error": ((502,), "The sequencer refused or failed the call."),
        },
    ),
    **_codes(
        "integrations",
        {
            "unknown_provider_kind": ((422,), "No such kind of provider."),
            "unknown_provider": ((422,), "No such provider."),
            "provider_not_installable": ((422,), "The provider cannot be installed per workspace."),
            "invalid_installation": ((422,), "The installation's settings are not valid."),
            "installation_exists": ((409,), "The workspace has this provider installed."),
            "provider_installation_not_found": ((404,), "No such provider installation."),
            "installation_in_use": ((409,), "Live domains or mailboxes were made at it."),
        },
    ),
    **_codes(
        "mailboxes, orders",
        {
            "mailbox_not_found": ((404,), "No such mailbox."),
            "mailbox_order_not_found": ((404,), "No such mailbox order."),
            "mailbox_not_active": ((409,), "The mailbox is not active."),
            "mailbox_not_editable": ((409,), "The mailbox cannot be changed in its status."),
            "mailbox_failed": ((409,), "The mailbox failed."),
            "mailbox_status_conflict": ((409,), "The mailbox's status does not allow this."),
            "removal_not_scheduled": ((409,), "No removal is scheduled."),
            "picture_type": ((422,), "The picture is not a PNG or JPEG."),
            "picture_missing": ((422,), "No picture was sent."),
            "picture_too_large": ((422,), "The picture is too large."),
            "picture_not_found": ((404,), "The mailbox has no picture."),
            "domain_not_active": ((409,), "Mailboxes are ordered on ACTIVE domains only."),
            "domain_type_mismatch": ((409,), "The domain holds another mailbox type."),
            "domain_mailbox_limit": ((409,), "The domain's mailbox limit for the type is reached."),
            "microsoft_mailboxes_not_active": ((409,), "Earlier Microsoft mailboxes are pending."),
            "recent_mailbox_creation": ((409,), "The 24-hour rule refuses new mailboxes now."),
            "duplicate_username": ((422,), "A username appears twice in the order."),
            "username_taken": ((409,), "The username is used on the domain."),
            "no_totp_secret": ((409,), "The mailbox has no TOTP secret."),
            "unusable_totp_secret": ((409,), "The mailbox's TOTP secret cannot make codes."),
            "mailbox_not_failed": ((409,), "Only failed mailboxes are retried."),
            "backend_unavailable": ((503,), "The mailbox backend is unavailable."),
            "too_many_mailboxes": ((422,), "Too many mailboxes in one order."),
        },
    ),
    **_codes(
        "operator",
        {
            "invalid_status": ((422,), "Not a status the operator may set."),
            "reason_required": ((422,), "A reason is required."),
            "order_not_pending": ((409,), "The order is not pending."),
            "mailbox_not_provisioning": ((409,), "The mailbox is not provisioning."),
        },
    ),
    **_codes(
        "registrars",
        {
            "registrar_not_configured": ((409,), "This deployment sells no domains."),
            "registrar_error": ((502,), "The registrar failed or refused the call."),
            "too_many_names": ((422,), "Too many names in one availability check."),
            "duplicate_names": ((422,), "A name appears twice in the check."),
            "domain_purchase_status_conflict": ((409,), "The purchase cannot make that move."),
            "export_status_conflict": ((409,), "The export cannot make that move."),
            "domain_purchase_not_found": ((404,), "No such domain purchase."),
            "names_not_for_sale": ((422,), "Some names cannot be bought as asked."),
            "too_many_years": ((422,), "The registrar registers for fewer years at a time."),
            "renewal_not_supported": (
                (409,),
                "The registrar's API cannot renew a domain: renew it at the registrar.",
            ),
            "domain_renewal_status_conflict": ((409,), "The renewal cannot make that move."),
            "domain_renewal_not_found": ((404,), "No such domain renewal."),
            "registrar_daily_cap_reached": (
                (409,),
                "Every registrar account made its new registrations for today (UTC).",
            ),
        },
    ),
    **_codes(
        "reputation",
        {
            "blacklist_checks_disabled": ((409,), "Blacklist checks are turned off."),
        },
    ),
    **_codes(
        "webhooks",
        {
            "webhook_not_found": ((404,), "No such webhook."),
            "webhook_delivery_not_found": ((404,), "No such webhook delivery."),
            "webhook_delivery_pending": ((409,), "The delivery is still pending."),
            "webhook_disabled": ((409,), "The webhook is disabled."),
            "webhook_url_too_long": ((422,), "The webhook URL is too long."),
            "webhook_url_not_public": ((422,), "The webhook URL is not a public address."),
            "invalid_webhook_secret": ((422,), "The webhook secret is not acceptable."),
            "null_value": ((422,), "The field may not be null."),
        },
    ),
    **_codes(
        "console",
        {
            "console_sign_in_required": ((401,), "Sign in to the console first."),
            "csrf_failed": ((403,), "The form's CSRF token is missing or wrong."),
            "user_not_found": ((404,), "No user with that email."),
        },
    ),
}


def declared(code: str) -> ErrorCode | None:
    return ERROR_CODES.get(code)
