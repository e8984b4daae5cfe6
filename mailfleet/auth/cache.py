"""Authenticated callers remembered for a few seconds, so most requests run no auth query.

Resolving a Bearer key (a hash lookup joined to its user) and the request's workspace (a
membership query) cost about as much as a page of results; a client sends the same key and
header request after request, so both answers are kept in process memory for CACHE_SECONDS.
Only successes are kept: an unknown key or a refused workspace is looked up again every time.

How fresh the answers are:

* Changes committed through this process (revoking a key, changing a role, removing a member,
  deleting a workspace or user, adding any of them) drop every cached answer at commit, before
  the response that made the change is sent. Session events below see them all: any flushed
  ApiKey, User, Membership or Workspace row, and bulk UPDATE/DELETE statements on those tables.
* With shared state in Redis (MAILFLEET_SHARED_STATE, kit.shared), each such commit is also
  published to Redis before the response is sent, and every server process sharing it drops
  its cached answers within MAILFLEET_SHARED_STATE_POLL_SECONDS (0.25 s, at most 0.4 s) plus
  twice kit.shared.SOCKET_TIMEOUT (0.3 s): under one second, also while Redis is not answering
  (a process that cannot read the signal drops its answers at every check, so it asks the
  database instead of trusting them).
* Other changes (without shared state, or from a process that does not publish such as a
  hand-written SQL statement; the CLI and `mailfleet worker` publish like servers) are seen within
  CACHE_SECONDS. That bounded delay is the price of not asking the database on every request;
  it is the same order as the rate-limit window.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Callable, Hashable
from itertools import chain
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from mailfleet.config import Settings
from mailfleet.kit import shared
from mailfleet.kit.crypto import sha256_hex
from mailfleet.models import ApiKey, Membership, Role, User, Workspace

if TYPE_CHECKING:
    # Only named in annotations: auth.service imports AUTH_NEUTRAL from here.
    from mailfleet.auth.service import Principal

CACHE_SECONDS = 5.0
# Garbage keys are never cached, so this only bounds many real keys; past it, start afresh.
CACHE_LIMIT = 10_000
# Set on a statement that touches a watched table without changing who may do what.
AUTH_NEUTRAL: Final = "mailfleet_auth_neutral"

WorkspacePick = tuple[uuid.UUID | None, Role | None]

_WATCHED = (ApiKey, User, Membership, Workspace)
_CHANGED = "mailfleet_auth_changed"

# Bumped by every commit that changed a watched row, in any session of this process. An entry
# remembers the generation it was read in and is void once that has moved on, which also voids
# an answer read from the database just before a concurrent commit and stored just after it.
_generations = itertools.count(1)
_generation = next(_generations)


def generation() -> int:
    return _generation


def _bump() -> None:
    global _generation
    _generation = next(_generations)


# Where this process tells the others about its access changes, and hears of theirs: one per
# Redis URL, for the process's lifetime, like the generation they bump.
INVALIDATION_KEY = "mailfleet:auth:generation"
_shared: dict[str, shared.Invalidations] = {}
_shared_lock = threading.Lock()


def share_invalidations(settings: Settings) -> shared.Invalidations:
    """Publish this process's access changes, and follow the others', if state is shared."""
    where = shared.backend(settings)
    if where == "memory":
        return shared.LocalInvalidations()
    url = (settings.redis_url if where == "redis" else settings.database_url).get_secret_value()
    with _shared_lock:
        found = _shared.get(url)
        if found is None:
            found = _shared[url] = shared.PolledInvalidations(
                _counter(settings, where),
                poll=settings.shared_state_poll_seconds,
                on_change=_bump,
                name=INVALIDATION_KEY,
            ).start()
        return found


def _counter(settings: Settings, where: str) -> shared.Counter:
    if where == "redis":
        return shared.RedisCounter(shared.redis_client(settings), INVALIDATION_KEY)
    from mailfleet.auth.ratelimit import shared_engine
    from mailfleet.auth.shared_db import DatabaseCounter

    return DatabaseCounter(shared_engine(settings), INVALIDATION_KEY)


def stop_sharing() -> None:
    """Stop publishing and following (tests; a process otherwise shares until it exits)."""
    with _shared_lock:
        for invalidations in _shared.values():
            invalidations.close()
        _shared.clear()


class AuthCache:
    """Key hash -> principal and (key, X-Workspace-Id) -> workspace and role, per app."""

    def __init__(
        self,
        seconds: float = CACHE_SECONDS,
        limit: int = CACHE_LIMIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds = seconds
        self.limit = limit
        self.clock = clock
        self._entries: dict[Hashable, tuple[float, int, Any]] = {}

    def principal(self, token: str) -> Principal | None:
        found: Principal | None = self._get(("key", sha256_hex(token)))
        return found

    def remember_principal(self, token: str, principal: Principal, read_in: int) -> None:
        self._put(("key", sha256_hex(token)), principal, read_in)

    def workspace(self, key_id: uuid.UUID, header: str | None) -> WorkspacePick | None:
        found: WorkspacePick | None = self._get(("workspace", key_id, header))
        return found

    def remember_workspace(
        self, key_id: uuid.UUID, header: str | None, pick: WorkspacePick, read_in: int
    ) -> None:
        self._put(("workspace", key_id, header), pick, read_in)

    def _get(self, key: Hashable) -> Any:
        # None when absent, stale or expired; a stored value is never None.
        entry = self._entries.get(key)
        if entry is None or entry[1] != _generation or entry[0] <= self.clock():
            return None
        return entry[2]

    def _put(self, key: Hashable, value: Any, read_in: int) -> None:
        if read_in != _generation:
            return
        if len(self._entries) >= self.limit:
            self._entries.clear()
        self._entries[key] = (self.clock() + self.seconds, read_in, value)


@event.listens_for(Session, "after_flush")
def _note_flushed_changes(session: Session, _flush: UOWTransaction) -> None:
    # Still the pre-flush collections here: what this flush inserted, updated or deleted.
    if any(isinstance(row, _WATCHED) for row in chain(session.new, session.dirty, session.deleted)):
        session.info[_CHANGED] = True


@event.listens_for(Session, "do_orm_execute")
def _note_bulk_changes(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete) or state.execution_options.get(AUTH_NEUTRAL):
        return
    if any(issubclass(mapper.class_, _WATCHED) for mapper in state.all_mappers):
        state.session.info[_CHANGED] = True


@event.listens_for(Session, "after_commit")
def _forget_on_commit(session: Session) -> None:
    # A rollback leaves the flag: the worst it causes is one needless refresh later.
    if session.info.pop(_CHANGED, False):
        _bump()
        for invalidations in list(_shared.values()):
            invalidations.publish()
