"""The errors of payments, each with its HTTP status and stable code (declared in
mailfleet.exceptions.ERROR_CODES, "billing")."""

from __future__ import annotations

from mailfleet.exceptions import BadGateway, BadRequest, Conflict, NotFound


class PaymentsNotConfigured(Conflict):
    """409: the deployment takes no card payments (payments_provider=none): an operator
    credits wallets. A conflict with the deployment's state, not a bad request: the same
    request succeeds once a provider is configured."""

    code = "payments_not_configured"


class PaymentProviderFailed(BadGateway):
    code = "payment_provider_error"


class PaymentMethodNotFound(NotFound):
    code = "payment_method_not_found"


class InvalidWebhookSignature(BadRequest):
    code = "invalid_webhook_signature"


class PaymentNotFound(NotFound):
    code = "payment_not_found"
