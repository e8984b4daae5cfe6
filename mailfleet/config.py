"""Settings, read from the environment with the MAILFLEET_ prefix.

Every default is chosen so that `mailfleet serve` works with no configuration at all:
SQLite and every other piece of state live under one data directory.
"""

from __future__ import annotations

import enum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class MailboxType(enum.StrEnum):
    GOOGLE = "GOOGLE"
    MICROSOFT = "MICROSOFT"
    SMTP = "SMTP"
    SMTP_DEDICATED = "SMTP_DEDICATED"


class RecentCreationRule(enum.StrEnum):
    """How the 24-hour rule reads (DESIGN.md, business rule 6)."""

    # The seed's wording: no new mailboxes where some were created in the last 24 hours.
    SEED = "seed"
    # Zapmail's help pages: new mailboxes only within 24 hours of the domain's first creation.
    WINDOW = "window"
    OFF = "off"


# The most domains one POST /v1/domains takes, as its OpenAPI schema documents (maxItems):
# MAILFLEET_MAX_DOMAINS_PER_BATCH may lower it, never raise it past what the document says.
MAX_DOMAINS_PER_BATCH = 10_000

DEFAULT_DOMAIN_LIMITS = {
    MailboxType.GOOGLE: 3,
    MailboxType.MICROSOFT: 3,
    MailboxType.SMTP: 5,
    MailboxType.SMTP_DEDICATED: 10,
}


class RegistrarAccount(BaseModel):
    """One more registrar account (MAILFLEET_REGISTRAR_ACCOUNTS, a JSON list of these): new
    purchases are spread over it and the deployment's own account ("default"). Credentials
    the registrar does not use stay empty: Porkbun `api_key`, `secret_api_key`; Namecheap
    `api_user`, `api_key`, `username` (the client IP and API base are the deployment's)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    registrar: str = Field(min_length=1, max_length=32)
    api_key: SecretStr = SecretStr("")
    secret_api_key: SecretStr = SecretStr("")
    api_user: str = ""
    username: str = ""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MAILFLEET_", env_file=".env", extra="ignore")

    data_dir: Path = Path("data")
    # Empty means SQLite at <data_dir>/mailfleet.db. Secret: the URL may carry a password
    # (read it through resolved_database_url).
    database_url: SecretStr = SecretStr("")
    database_pool_size: int = 10
    # Requests served at once; the rest wait in the event loop. Kept below the worker threads
    # (40) and the pooled connections (pool size + 40 overflow): see app.ConcurrencyGate.
    max_inflight_requests: int = Field(default=24, ge=1, le=32)
    # Seconds a SQLite writer waits for the lock before giving up.
    sqlite_busy_timeout: float = 30.0

    host: str = "127.0.0.1"
    port: int = 8000

    # Comma-separated Fernet keys, newest first. Empty: a key file in the data directory.
    encryption_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)

    # Per API key; 0 disables a window.
    rate_limit_enabled: bool = True
    rate_limit_per_second: int = 20
    rate_limit_per_minute: int = 600

    idempotency_ttl_hours: int = 24
    # Request bodies over this are refused with 413 while being read (kit.bodylimit); the bulk
    # routes (domain submit, mailbox orders, picture upload) take the second, bigger limit.
    max_request_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    max_bulk_request_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    max_domains_per_batch: int = Field(
        default=MAX_DOMAINS_PER_BATCH, ge=1, le=MAX_DOMAINS_PER_BATCH
    )
    max_mailboxes_per_order: int = 100
    default_page_size: int = 50
    # Memory for rendered list pages on SQLite, kept until anything commits (kit.pagecache);
    # 0 turns the cache off.
    page_cache_bytes: int = Field(default=32 * 1024 * 1024, ge=0)
    max_page_size: int = 500

    # Business rules (DESIGN.md section 2); each is a policy with the seed's default.
    domain_limit_google: int = DEFAULT_DOMAIN_LIMITS[MailboxType.GOOGLE]
    domain_limit_microsoft: int = DEFAULT_DOMAIN_LIMITS[MailboxType.MICROSOFT]
    domain_limit_smtp: int = DEFAULT_DOMAIN_LIMITS[MailboxType.SMTP]
    domain_limit_smtp_dedicated: int = DEFAULT_DOMAIN_LIMITS[MailboxType.SMTP_DEDICATED]
    recent_creation_rule: RecentCreationRule = RecentCreationRule.SEED
    recent_creation_hours: int = 24
    microsoft_wait_for_active: bool = True
    # The InboxedUp surface applies its document's rules only (compat.inboxedup.surface): these
    # turn the two rules its document does not have on for it too.
    inboxedup_recent_creation_rule: RecentCreationRule = RecentCreationRule.OFF
    inboxedup_microsoft_wait_for_active: bool = False
    # The Zapmail surface (compat.zapmail.surface): its document's rate limits per key, 5 per
    # second and 20 per minute, counted apart from the other surfaces' (0 turns a window off;
    # MAILFLEET_RATE_LIMIT_ENABLED=false turns both off); its 24-hour rule's reading (the seed's
    # "none created in the last 24 hours" by default; "window" is the help pages' reading).
    zapmail_rate_limit_per_second: int = Field(default=5, ge=0)
    zapmail_rate_limit_per_minute: int = Field(default=20, ge=0)
    zapmail_recent_creation_rule: RecentCreationRule = RecentCreationRule.SEED
    # Zapmail's "unified provider" change (Oct 2026): reads return Google and Microsoft objects
    # together, each with its serviceProvider (true); false is the behaviour before it, reads
    # narrowed to the x-service-provider header's provider (GOOGLE when absent).
    zapmail_unified_provider: bool = True
    # Days between a mailbox's creation and its renewal date.
    renewal_period_days: int = 30
    invitation_ttl_days: int = 7

    # Nameserver pairs handed to customers: "ns1.a.com ns2.a.com" per pair, comma between pairs.
    nameserver_pairs: Annotated[list[tuple[str, str]], NoDecode] = Field(
        default_factory=lambda: [("ns1.mailfleet.local", "ns2.mailfleet.local")]
    )

    # Top-level labels accepted although the public suffix list does not have them (`test` for
    # the demo and the test suite, a private TLD on a closed network). With the builtin DNS
    # server, Mailfleet also serves each of these TLDs' zones, as their registry would: every
    # domain under one is delegated to its assigned pair, so the real delegation check passes on
    # one machine. Empty (the default) accepts public suffixes only.
    local_tlds: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # --- DNS (issue: DNS hosting and delegation) ---
    # Where zones live: "builtin" (Mailfleet's own authoritative server), "powerdns", "cloudflare".
    dns_provider: str = "builtin"
    # The builtin authoritative server; `mailfleet serve` starts it when enabled.
    dns_server_enabled: bool = True
    dns_server_host: str = "127.0.0.1"
    dns_server_port: int = 5300
    # Addresses allowed to transfer zones (AXFR/IXFR) from the builtin server; empty refuses all.
    dns_transfer_allowed: Annotated[list[str], NoDecode] = Field(default_factory=list)
    dns_default_ttl: int = 3600
    dns_soa_hostmaster: str = "hostmaster.mailfleet.local"
    powerdns_api_url: str = "http://127.0.0.1:8081"
    powerdns_api_key: SecretStr = SecretStr("")
    powerdns_server_id: str = "localhost"
    cloudflare_api_token: SecretStr = SecretStr("")
    cloudflare_account_id: str = ""
    # Empty: the client library's default (api.cloudflare.com).
    cloudflare_base_url: str = ""
    # Delegation checks ask the parent zone's own servers. Overrides, "suffix=ip[:port] ip[:port]"
    # separated by commas (tests point a fake TLD at a local server); other parents are found
    # through the resolver below.
    dns_parent_servers: Annotated[dict[str, list[str]], NoDecode] = Field(default_factory=dict)
    # Addresses of our nameserver host names, "host=ip[:port]" separated by commas; others resolve.
    dns_nameserver_addresses: Annotated[dict[str, list[str]], NoDecode] = Field(
        default_factory=dict
    )
    # Resolver used only to find parent servers' addresses; empty means the system's.
    dns_resolvers: Annotated[list[str], NoDecode] = Field(default_factory=list)
    dns_query_timeout: float = 2.0
    # A domain waiting for delegation fails after this many hours.
    ns_check_deadline_hours: float = 72.0
    # Seconds between delegation checks: the n-th retry waits the n-th step, the last one repeats.
    ns_check_backoff: Annotated[list[int], NoDecode] = Field(
        default_factory=lambda: [15, 30, 60, 120, 300, 600, 900, 1800, 3600]
    )
    # Seconds between health checks of an ACTIVE domain's records.
    dns_health_interval: int = 6 * 3600
    # Records published for SMTP types.
    mail_host: str = "mail.mailfleet.local"
    spf_smtp_mechanisms: str = "mx"
    dkim_selector: str = "mailfleet"
    dmarc_default_policy: str = "none"
    dmarc_default_rua: str = ""
    # Microsoft 365 tenant's initial domain: the DKIM CNAMEs of MICROSOFT domains point under it.
    microsoft_tenant_domain: str = "mailfleet.onmicrosoft.com"
    # Domain forwarding: the address Mailfleet's web front answers on.
    forwarding_ipv4: str = "127.0.0.1"
    forwarding_ipv6: str = ""

    # --- Blacklists (DNSBL monitoring, mailfleet/reputation) ---
    dnsbl_enabled: bool = True
    # Zones asked about each ACTIVE domain (name.zone) and each sending IP (reversed-ip.zone).
    dnsbl_domain_zones: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["dbl.spamhaus.org", "multi.surbl.org"]
    )
    dnsbl_ip_zones: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["zen.spamhaus.org", "b.barracudacentral.org", "bl.spamcop.net"]
    )
    # "ip[:port]" resolvers for DNSBL queries; empty means dns_resolvers (then the system's).
    # Spamhaus refuses queries from public resolvers: use your own recursive resolver.
    dnsbl_resolvers: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # The SMTP backend's public sending addresses, checked against the IP zones.
    dnsbl_sending_ips: Annotated[list[str], NoDecode] = Field(default_factory=list)
    dnsbl_interval_hours: float = Field(default=24.0, gt=0)
    # The lists' query rules: at most this many DNSBL queries per second, across a sweep.
    dnsbl_queries_per_second: float = Field(default=20.0, gt=0)
    dnsbl_timeout_seconds: float = Field(default=3.0, gt=0)

    # --- Jobs ---
    # "sqlite" (a file in the data directory), "redis", or "memory" (tests).
    job_queue: str = "sqlite"
    # Secret: the URL may carry a password.
    redis_url: SecretStr = SecretStr("redis://127.0.0.1:6379/0")
    # Where state that several API processes must agree on lives (rate-limit counters, the auth
    # cache's invalidation): "memory" (per process), "redis" (shared through redis_url),
    # "database" (shared through PostgreSQL, for several processes without Redis), or
    # "auto": redis when job_queue is redis or redis_url is set explicitly, else memory.
    shared_state: Literal["auto", "memory", "redis", "database"] = "auto"
    # Seconds between a process's checks for access changes published by the others; a
    # revocation reaches every process within this plus 0.6 s (auth.cache): under 1 s.
    shared_state_poll_seconds: float = Field(default=0.25, gt=0, le=0.4)
    # The console's password-reset mail. No host: no "forgot password" form (an operator makes
    # links with `mailfleet console reset-link`). The links point at `console_public_url`
    # (default http://HOST:PORT).
    console_mail_host: str = ""
    console_mail_port: int = Field(default=25, ge=1, le=65535)
    console_mail_from: str = "Mailfleet <no-reply@localhost>"
    console_mail_username: str = ""
    console_mail_password: SecretStr = SecretStr("")
    console_mail_starttls: bool = False
    console_public_url: str = ""
    # Build every route's request handling at start-up rather than on the first request that
    # walks past it (FastAPI builds it lazily: ~0.7 s of CPU for all surfaces, which the first
    # requests of a fresh server would pay). Tests that make an app per test turn it off.
    warm_routes: bool = True
    # Run the job consumer inside `mailfleet serve` (the embedded default).
    worker_in_process: bool = True
    worker_threads: int = 4
    # Seconds between sweeps that re-enqueue work whose next check is due.
    sweep_interval: int = 10
    # A claimed domain is handed out again if its job has not finished after this many seconds.
    job_lease_seconds: int = 300

    # Automated mailbox backends: retry a provider's transient errors this many times, waiting
    # the n-th step before the n-th retry (the last step repeats).
    mailbox_provision_max_attempts: int = 8
    # Mailboxes per sweep claim and per provisioning round. A round of the Postfix/Dovecot
    # provider costs one pass over its files and one reload whatever its size, plus a hash per
    # mailbox: at 200 the hashes (~3 ms each) outweigh the pass until a host holds some 100,000
    # mailboxes, while a round still ends within a second or two and a crash repeats little.
    mailbox_provision_chunk: int = Field(default=200, ge=1, le=5000)
    mailbox_provision_backoff: Annotated[list[int], NoDecode] = Field(
        default_factory=lambda: [10, 60, 300, 900, 3600]
    )

    # Mailbox backend per type: "manual" queues the mailbox for an operator; "smtp" provisions
    # on Mailfleet's Postfix/Dovecot.
    backend_google: str = "manual"
    backend_microsoft: str = "manual"
    backend_smtp: str = "manual"
    backend_smtp_dedicated: str = "manual"

    # --- Mail servers (SMTP backend) ---
    # The "smtp" provider keeps mailboxes in files that Dovecot and Postfix on this host read
    # (integrations.md 4.2; why files: mailfleet/mailboxes/providers/smtp.py). Writers serialise
    # on "<mail_passwd_file>.lock".
    # Dovecot passdb passwd-file: "user@domain:{SHA512-CRYPT}...".
    mail_passwd_file: Path = Path("/etc/dovecot/mailfleet/passwd")
    # Postfix texthash: tables ("texthash:/etc/postfix/mailfleet/virtual_mailbox_maps", ...).
    postfix_virtual_mailbox_domains: Path = Path("/etc/postfix/mailfleet/virtual_mailbox_domains")
    postfix_virtual_mailbox_maps: Path = Path("/etc/postfix/mailfleet/virtual_mailbox_maps")
    postfix_virtual_alias_maps: Path = Path("/etc/postfix/mailfleet/virtual_alias_maps")
    # Postfix reads texthash tables only when its daemons start: `postfix -c DIR reload` follows
    # every change. Empty: no reload (no Postfix on this host to tell).
    postfix_config_dir: str = "/etc/postfix"
    postfix_reload_timeout: float = 30.0
    # Where owners connect, as shown with a mailbox's credentials. Empty host: mail_host.
    smtp_server_host: str = ""
    smtp_submission_port: int = 587
    smtp_security: str = "starttls"
    imap_server_host: str = ""
    imap_port: int = 993
    imap_security: str = "ssl"

    # --- Google Workspace ---
    # The "google" provider acts through a service account with domain-wide delegation
    # (integrations.md 1.1): its key, and the super admin it impersonates. The key is the JSON
    # downloaded from Google Cloud, inline (preferred: it is a secret, keep it out of files
    # others read) or as a path.
    google_service_account_json: SecretStr = SecretStr("")
    google_service_account_file: str = ""
    google_admin_subject: str = ""
    # "my_customer" is the impersonated admin's own account; a reseller sets the customer id.
    google_customer_id: str = "my_customer"
    # Where new users go; empty: the top-level organisational unit ("/").
    google_org_unit_path: str = ""
    # Endpoints (the client library's whole base URL for each API): tests point them at a fake.
    google_admin_api_url: str = "https://admin.googleapis.com/"
    google_site_verification_api_url: str = "https://www.googleapis.com/siteVerification/v1/"
    # Empty: the key file's own token_uri (Google's).
    google_token_uri: str = ""
    # Seconds per HTTP request, and quick retries of 429/5xx inside one call (exponential, a
    # few seconds at most) before the error goes back to the job's own, longer backoff.
    google_timeout: float = 30.0
    google_num_retries: int = Field(default=2, ge=0)

    # --- Microsoft 365 ---
    # The "microsoft" provider (mailfleet/mailboxes/providers/microsoft.py) signs in as an Entra ID
    # app registration (client credentials) with the application permissions
    # Domain.ReadWrite.All, User.ReadWrite.All and LicenseAssignment.ReadWrite.All, admin-consented.
    microsoft_tenant_id: str = ""
    microsoft_client_id: str = ""
    microsoft_client_secret: SecretStr = SecretStr("")
    # Overridable so tests can point at a local fake; msal accepts only an https authority.
    microsoft_authority_base_url: str = "https://login.microsoftonline.com"
    microsoft_graph_base_url: str = "https://graph.microsoft.com/v1.0"
    # The licence each new user gets: a skuId (GUID) from Graph's GET /subscribedSkus, e.g. of
    # Exchange Online (Plan 1). It is what gives a user an Exchange mailbox.
    microsoft_license_sku_id: str = ""
    # Two-letter country of new users; Microsoft licenses no user without one.
    microsoft_usage_location: str = "US"
    # Seconds for one request to the identity platform or Graph.
    microsoft_timeout: float = 30.0

    # --- Webhooks ---
    # Seconds a receiver has to answer one delivery attempt.
    webhook_timeout: float = 10.0
    # Seconds before the n-th retry of a failed attempt; the last step repeats.
    webhook_retry_backoff: Annotated[list[int], NoDecode] = Field(
        default_factory=lambda: [5, 30, 120, 600, 3600, 10800, 21600]
    )
    # Attempts (the first one included) before a delivery is FAILED.
    webhook_max_attempts: int = Field(default=8, ge=1)
    # The outbox sweep re-reads events this many seconds older than its cursor, so an event whose
    # transaction committed late is still delivered (the unique delivery key drops repeats).
    webhook_outbox_grace_seconds: int = Field(default=300, ge=0)
    # After a secret rotation the old secret keeps signing (a second signature) this long.
    webhook_secret_rotation_hours: int = Field(default=24, ge=0)
    # Deliver to loopback, private, link-local and other non-public addresses (refused by
    # default: a webhook URL must not reach into the operator's network; webhooks.addresses).
    webhook_allow_private_addresses: bool = False

    # --- Billing ---
    # The currency of every wallet and price (ISO 4217, upper case).
    billing_currency: str = "USD"
    # Google and Microsoft plans interchangeable: one plan's slots hold either type (Zapmail's
    # "unified provider").
    billing_unified_provider: bool = False
    # Monthly price of the SMTP plans (quarterly and yearly follow with the Zapmail discounts),
    # per slot and per add-on slot, in cents.
    smtp_plan_slot_price_cents: int = Field(default=300, ge=0)
    smtp_dedicated_plan_slot_price_cents: int = Field(default=600, ge=0)
    # Days a PAST_DUE subscription keeps its slots while renewals are retried, then EXPIRED;
    # then days its mailboxes stay SUSPENDED before they are deprovisioned.
    renewal_grace_days: int = Field(default=3, ge=0)
    expired_deprovision_days: int = Field(default=7, ge=0)
    # Hours between renewal retries of a PAST_DUE subscription.
    renewal_retry_hours: int = Field(default=24, ge=1)
    # Auto-recharge defaults (Zapmail R14) and the most it may charge a wallet in one day.
    auto_recharge_threshold_cents: int = Field(default=2000, ge=0)
    auto_recharge_min_amount_cents: int = Field(default=5000, ge=1)
    auto_recharge_daily_cap_cents: int = Field(default=100_000, ge=0)

    # --- Payments ---
    # "none" (an operator credits wallets by hand) or "stripe".
    payments_provider: str = "none"
    stripe_api_key: SecretStr = SecretStr("")
    stripe_webhook_secret: SecretStr = SecretStr("")
    # Tests point the client at a local fake; empty means Stripe's own API.
    stripe_api_base: str = ""
    # Where Checkout sends the customer back (the console's wallet page, or the operator's site).
    checkout_success_url: str = "http://127.0.0.1:8000/billing/return?status=success"
    checkout_cancel_url: str = "http://127.0.0.1:8000/billing/return?status=cancel"
    # The smallest and largest wallet top-up a customer may ask for, in cents.
    topup_min_amount_cents: int = Field(default=500, ge=1)
    topup_max_amount_cents: int = Field(default=1_000_000, ge=1)

    # --- Registrars (mailfleet/registrars: domain availability and purchase) ---
    # "none" (domains are bought elsewhere and connected), "porkbun" or "namecheap".
    registrar: str = "none"
    porkbun_api_key: SecretStr = SecretStr("")
    porkbun_secret_api_key: SecretStr = SecretStr("")
    # Tests point it at a local fake.
    porkbun_api_base: str = "https://api.porkbun.com/api/json/v3"
    registrar_timeout_seconds: float = Field(default=20.0, gt=0)
    # Calls one process has in flight at one registrar account at once (0: no limit); more
    # wait their turn instead of being refused by the registrar's own limit.
    registrar_max_concurrency: int = Field(default=4, ge=0)
    # How long one check may wait in all for a registrar's rate limit before giving up.
    registrar_max_wait_seconds: float = Field(default=60.0, ge=0)
    # Purchased domains with auto-renew are renewed this many days before they expire; those
    # without it get one `domain.expiring` event per registration period in the same window.
    domain_renewal_lead_days: int = Field(default=7, ge=0)
    # Mailfleet's price: the registrar's plus this share, rounded up to the cent.
    domain_price_markup_percent: int = Field(default=20, ge=0, le=1000)
    # Availability checks per workspace per window (Zapmail: 10 per 30 minutes); 0: no limit.
    domain_search_limit: int = Field(default=10, ge=0)
    domain_search_window_minutes: int = Field(default=30, ge=1)
    domain_search_max_names: int = Field(default=20, ge=1, le=100)
    # Namecheap's XML API (registrar "namecheap"); sandbox:
    # https://api.sandbox.namecheap.com/xml.response. Calls come from `namecheap_client_ip`,
    # which must be whitelisted in the Namecheap account.
    namecheap_api_base: str = "https://api.namecheap.com/xml.response"
    namecheap_api_user: str = ""
    namecheap_api_key: SecretStr = SecretStr("")
    # The account acted on; empty: the API user's own.
    namecheap_username: str = ""
    namecheap_client_ip: str = ""
    # Namecheap asks callers to cache users.getPricing: one call per TLD per this many seconds.
    namecheap_pricing_cache_seconds: int = Field(default=3600, ge=0)
    # Registrant phone ("+1.5555555555") when the workspace's billing details carry none.
    registrar_contact_phone: str = ""
    # More accounts at the same registrar, as JSON: [{"name": "pb2", "registrar": "porkbun",
    # "api_key": "...", "secret_api_key": "..."}]. The settings above are the account named
    # "default". Each new purchase goes to the account with the fewest registrations today.
    registrar_accounts: list[RegistrarAccount] = Field(default_factory=list)
    # New registrations per account per UTC day (purchases not refused by the registrar);
    # when every account has made this many, a purchase is refused (409); 0: no cap.
    registrar_daily_cap: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _registrar_accounts_fit(self) -> Settings:
        names = [account.name for account in self.registrar_accounts]
        if "default" in names or len(set(names)) != len(names):
            raise ValueError(
                "registrar_accounts: each name once, and not 'default' (the settings' own)"
            )
        registrars = {account.registrar for account in self.registrar_accounts}
        if self.registrar != "none":
            registrars.add(self.registrar)
        if len(registrars) > 1:
            raise ValueError(
                "registrar_accounts: every account must be at one registrar, the one "
                f"MAILFLEET_REGISTRAR names (purchases are priced there); got {sorted(registrars)}"
            )
        return self

    # RDAP pre-filter: names the registry's RDAP server knows (200) are TAKEN without asking
    # the registrar; a 404 or a failure still asks it. The bootstrap (IANA's dns.json format)
    # is shipped (mailfleet/registrars/rdap_bootstrap.json) and never downloaded; a file here
    # replaces it.
    rdap_enabled: bool = True
    rdap_bootstrap_file: str = ""
    rdap_timeout_seconds: float = Field(default=3.0, gt=0)
    rdap_concurrency: int = Field(default=8, ge=1, le=32)

    # --- Exports (mailfleet/exports: sequencer accounts and export jobs) ---
    # Each app's API base URL; tests point them at local fakes (tests/fakes/sequencers).
    export_instantly_base_url: str = "https://api.instantly.ai/api/v2"
    export_smartlead_base_url: str = "https://server.smartlead.ai/api/v1"
    export_lemlist_base_url: str = "https://api.lemlist.com/api"
    export_plusvibe_base_url: str = "https://api.plusvibe.ai/api/v1"
    export_reachinbox_base_url: str = "https://api.reachinbox.ai/api/v1"
    # A mailbox is exported at most this many times in any window of this many days.
    export_max_per_window: int = Field(default=3, ge=1)
    export_window_days: int = Field(default=7, ge=1)
    # Mailboxes one export job sends to its app at once, and per claimed batch.
    export_concurrency: int = Field(default=4, ge=1, le=32)
    export_batch_size: int = Field(default=50, ge=1)
    # Retries of one mailbox on 429/5xx/timeouts, waiting Retry-After or the n-th step
    # (seconds, the last step repeats) before the n-th retry; then it is recorded FAILED.
    export_max_retries: int = Field(default=5, ge=0)
    export_backoff_seconds: list[float] = [1.0, 2.0, 5.0, 10.0, 30.0]
    # Seconds for one request to an app.
    export_timeout: float = 30.0

    # First start with an empty database creates this owner and prints a one-time key.
    bootstrap_owner_email: str = "owner@mailfleet.local"

    log_level: str = "INFO"

    @field_validator("encryption_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("nameserver_pairs", mode="before")
    @classmethod
    def _split_pairs(cls, value: object) -> object:
        if isinstance(value, str):
            pairs = []
            for chunk in value.split(","):
                names = chunk.split()
                if len(names) != 2:
                    raise ValueError("each nameserver pair needs exactly two host names")
                pairs.append((names[0].lower(), names[1].lower()))
            return pairs
        return value

    @field_validator("dns_transfer_allowed", "dns_resolvers", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator(
        "dnsbl_domain_zones",
        "dnsbl_ip_zones",
        "dnsbl_resolvers",
        "dnsbl_sending_ips",
        mode="before",
    )
    @classmethod
    def _split_dnsbl_lists(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().rstrip(".") for part in value.split(",") if part.strip()]
        return value

    @field_validator("local_tlds", mode="before")
    @classmethod
    def _split_tlds(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list):
            return [str(part).strip().lower().strip(".") for part in value if str(part).strip()]
        return value

    @field_validator(
        "ns_check_backoff", "mailbox_provision_backoff", "webhook_retry_backoff", mode="before"
    )
    @classmethod
    def _split_ints(cls, value: object) -> object:
        if isinstance(value, str):
            return [int(part) for part in value.split(",") if part.strip()]
        return value

    @field_validator("dns_parent_servers", "dns_nameserver_addresses", mode="before")
    @classmethod
    def _split_address_map(cls, value: object) -> object:
        if isinstance(value, str):
            mapping: dict[str, list[str]] = {}
            for chunk in value.split(","):
                if not chunk.strip():
                    continue
                key, _, addresses = chunk.partition("=")
                if not addresses.strip():
                    raise ValueError(f"expected name=address in {chunk!r}")
                mapping[key.strip().lower().rstrip(".")] = addresses.split()
            return mapping
        return value

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url.get_secret_value():
            return self.database_url.get_secret_value()
        return f"sqlite:///{(self.data_dir / 'mailfleet.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    def domain_limit(self, mailbox_type: MailboxType) -> int:
        return {
            MailboxType.GOOGLE: self.domain_limit_google,
            MailboxType.MICROSOFT: self.domain_limit_microsoft,
            MailboxType.SMTP: self.domain_limit_smtp,
            MailboxType.SMTP_DEDICATED: self.domain_limit_smtp_dedicated,
        }[mailbox_type]

    def backend_for(self, mailbox_type: MailboxType) -> str:
        return {
            MailboxType.GOOGLE: self.backend_google,
            MailboxType.MICROSOFT: self.backend_microsoft,
            MailboxType.SMTP: self.backend_smtp,
            MailboxType.SMTP_DEDICATED: self.backend_smtp_dedicated,
        }[mailbox_type]
