"""A surface's policy profile sets the rules' parameters; the rules stay in `mailboxes.rules`."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mailfleet.config import RecentCreationRule, Settings
from mailfleet.db import Database
from mailfleet.exceptions import Conflict
from mailfleet.kit import clock
from mailfleet.mailboxes import rules
from mailfleet.models import Domain, MailboxType
from mailfleet.policy import PolicyProfile
from tests.factories import make_domain, make_mailbox, make_tenant


def _check(db: Database, profile: PolicyProfile, domain: Domain, count: int) -> None:
    with db.transaction(write=False) as session:
        fresh = session.get_one(Domain, domain.id)
        rules.check_domain_accepts(session, profile, fresh, MailboxType.GOOGLE, count, clock.now())


def test_the_native_profile_is_the_deployments_settings(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(domain_limit_google=7, recent_creation_rule="off")
    profile = PolicyProfile.from_settings(settings)
    assert profile.name == "native"
    assert profile.domain_limit(MailboxType.GOOGLE) == 7
    assert profile.recent_creation_rule == RecentCreationRule.OFF
    assert profile.rate_limit_per_minute == 0  # the tests turn rate limits off


def test_the_rules_apply_the_profiles_limits(
    db: Database, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(domain_limit_google=3, recent_creation_rule="off")
    native = PolicyProfile.from_settings(settings)
    stricter = native.with_changes("strict", domain_limits={t: 1 for t in MailboxType})
    owner = make_tenant(db)
    domain = make_domain(db, owner.workspace_id, mailbox_type=MailboxType.GOOGLE)
    make_mailbox(db, domain)

    _check(db, native, domain, 2)
    with pytest.raises(Conflict) as refused:
        _check(db, stricter, domain, 1)
    assert refused.value.code == "domain_mailbox_limit"


def test_the_24_hour_rule_follows_the_profiles_mode(
    db: Database, make_settings: Callable[..., Settings]
) -> None:
    native = PolicyProfile.from_settings(make_settings(recent_creation_rule="seed"))
    owner = make_tenant(db)
    domain = make_domain(db, owner.workspace_id, mailbox_type=MailboxType.GOOGLE)
    make_mailbox(db, domain)
    with pytest.raises(Conflict) as refused:
        _check(db, native, domain, 1)
    assert refused.value.code == "recent_mailbox_creation"
    _check(
        db, native.with_changes("relaxed", recent_creation_rule=RecentCreationRule.OFF), domain, 1
    )
