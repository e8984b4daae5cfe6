"""The native API's routers, one per domain package; `surfaces.native` mounts them under /v1.

They are included into the native surface's app itself, not through one /v1 router: FastAPI
matches an included router's routes once to choose it and again to dispatch inside it, so each
level of nesting costs every request a walk over the routes (about 80 µs for the mailbox list;
see bench/RESULTS.md).
"""

from fastapi import APIRouter

from mailfleet.account.endpoints import router as account_router
from mailfleet.api_keys.endpoints import router as api_keys_router
from mailfleet.billing.invoices.endpoints import router as invoices_router
from mailfleet.billing.payments.endpoints import router as payments_router
from mailfleet.billing.plans.endpoints import operator_router as plans_operator_router
from mailfleet.billing.plans.endpoints import router as plans_router
from mailfleet.billing.scheduled.endpoints import router as scheduled_router
from mailfleet.billing.subscriptions.endpoints import router as subscriptions_router
from mailfleet.billing.wallet.endpoints import operator_router as wallet_operator_router
from mailfleet.billing.wallet.endpoints import router as wallet_router
from mailfleet.dns.endpoints import router as dns_router
from mailfleet.domains.endpoints import router as domains_router
from mailfleet.domains.verification.endpoints import router as domain_verification_router
from mailfleet.exports.endpoints import router as exports_router
from mailfleet.integrations.endpoints import router as integrations_router
from mailfleet.kit.schemas import Problem
from mailfleet.mailboxes.actions.endpoints import router as mailbox_actions_router
from mailfleet.mailboxes.endpoints import router as mailboxes_router
from mailfleet.operator.endpoints import router as operator_router
from mailfleet.orders.endpoints import router as orders_router
from mailfleet.registrars.endpoints import router as registrars_router
from mailfleet.reputation.endpoints import router as reputation_router
from mailfleet.setups.endpoints import router as setups_router
from mailfleet.swaps.endpoints import router as swaps_router
from mailfleet.webhooks.endpoints import router as webhooks_router
from mailfleet.workspaces.endpoints import router as workspaces_router

# Every route can answer with these; documenting them lets clients (and the fuzzer) expect them.
COMMON_ERRORS: dict[int | str, dict[str, object]] = {
    status: {"model": Problem, "content": {"application/problem+json": {}}}
    for status in (400, 401, 403, 404, 409, 422, 429)
}

ROUTERS: tuple[APIRouter, ...] = (
    account_router,
    workspaces_router,
    api_keys_router,
    domains_router,
    dns_router,
    domain_verification_router,
    orders_router,
    mailboxes_router,
    mailbox_actions_router,
    operator_router,
    webhooks_router,
    plans_router,
    plans_operator_router,
    subscriptions_router,
    invoices_router,
    wallet_router,
    payments_router,
    wallet_operator_router,
    scheduled_router,
    registrars_router,
    setups_router,
    swaps_router,
    exports_router,
    integrations_router,
    reputation_router,
)
