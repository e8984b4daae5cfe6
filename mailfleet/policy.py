"""Policy profiles: the parameters of the business rules, named and resolved per surface.

The rules themselves live once, in the services (`mailboxes.rules`); a profile only sets their
parameters. The native surface's profile is the deployment's settings (`from_settings`); a
compat surface derives its own (`with_changes`), e.g. Zapmail's documented 5 per domain.
Nothing here imports a domain package, so every layer may take a profile.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from mailfleet.config import MailboxType, RecentCreationRule, Settings


@dataclasses.dataclass(frozen=True)
class PolicyProfile:
    name: str
    # Rule 2: mailboxes a domain may hold, per mailbox type.
    domain_limits: Mapping[MailboxType, int]
    # Rule 5: the 24-hour rule's mode and its window.
    recent_creation_rule: RecentCreationRule
    recent_creation_hours: int
    # Rule 6: Microsoft mailboxes are ordered on a domain only once its earlier ones are active.
    microsoft_wait_for_active: bool
    # Requests per API key; 0 turns a window off.
    rate_limit_per_second: int
    rate_limit_per_minute: int

    @classmethod
    def from_settings(cls, settings: Settings, name: str = "native") -> PolicyProfile:
        enabled = settings.rate_limit_enabled
        return cls(
            name=name,
            domain_limits=MappingProxyType({t: settings.domain_limit(t) for t in MailboxType}),
            recent_creation_rule=settings.recent_creation_rule,
            recent_creation_hours=settings.recent_creation_hours,
            microsoft_wait_for_active=settings.microsoft_wait_for_active,
            rate_limit_per_second=settings.rate_limit_per_second if enabled else 0,
            rate_limit_per_minute=settings.rate_limit_per_minute if enabled else 0,
        )

    def domain_limit(self, mailbox_type: MailboxType) -> int:
        return self.domain_limits[mailbox_type]

    def with_changes(self, name: str, **changes: object) -> PolicyProfile:
        """A profile derived from this one (the deployment's), under its own name."""
        return dataclasses.replace(self, name=name, **changes)  # type: ignore[arg-type]

    def rules_json(self) -> dict[str, Any]:
        """The order rules' parameters, to store with work that orders later (a quick setup,
        a swap) so it runs under the surface that took it, not the native rules."""
        return {
            "name": self.name,
            "domain_limits": {kind.value: limit for kind, limit in self.domain_limits.items()},
            "recent_creation_rule": self.recent_creation_rule.value,
            "recent_creation_hours": self.recent_creation_hours,
            "microsoft_wait_for_active": self.microsoft_wait_for_active,
        }

    @classmethod
    def from_rules_json(cls, settings: Settings, stored: Mapping[str, Any]) -> PolicyProfile:
        """What `rules_json` stored, on the deployment's profile (rate limits are not stored:
        the work runs in the worker)."""
        return cls.from_settings(settings).with_changes(
            stored["name"],
            domain_limits=MappingProxyType(
                {MailboxType(kind): limit for kind, limit in stored["domain_limits"].items()}
            ),
            recent_creation_rule=RecentCreationRule(stored["recent_creation_rule"]),
            recent_creation_hours=stored["recent_creation_hours"],
            microsoft_wait_for_active=stored["microsoft_wait_for_active"],
        )
