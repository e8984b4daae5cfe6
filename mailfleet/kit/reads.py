"""The light read path of hot list endpoints: one read-only unit of work, and the page cache.

A sync endpoint costs three worker-thread hops (dependency set-up, endpoint, commit), each a
GIL hand-off under load. A light endpoint resolves its caller in the event loop
(`auth.dependencies.get_caller`, the `Reading` dependency), checks the role, and hands its
query and rendering to `read` or `read_page` here: one hop, or none.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import Connection, QueuePool
from starlette.concurrency import run_in_threadpool

from mailfleet.db import Database
from mailfleet.kit.pagecache import PageCache
from mailfleet.kit.responses import JSON

T = TypeVar("T")


def _on_connection(database: Database, work: Callable[[Connection], T]) -> T:
    # Closing the connection rolls its read transaction back: a read has nothing to commit.
    with database.engine.connect() as connection:
        return work(connection)


async def read(request: Request, work: Callable[[Connection], T], *, bounded: bool = False) -> T:
    """Run `work` (query and render) in one read-only transaction on a plain connection.

    Normally in one worker-thread hop. A `bounded` read (an index walk of about one page, no
    scan, no sort) on SQLite runs right here in the event loop instead, when the pool has an
    idle connection so that the checkout cannot wait: SQLite answers it in-process in about
    0.1 ms and WAL readers never wait for the writer, which is less than the hop's GIL
    hand-offs cost under load. PostgreSQL reads wait on the network, so they always hop.
    """
    database: Database = request.app.state.db
    if bounded and _reads_in_event_loop(database):
        return _on_connection(database, work)
    return await run_in_threadpool(_on_connection, database, work)


async def read_page(
    request: Request, key: Hashable, work: Callable[[Connection], Response], *, bounded: bool
) -> Response:
    """`read` for a list page: served from the page cache when nothing has committed since it
    was rendered (see kit.pagecache). `key` names the workspace and every parameter of the page;
    check the caller's access first."""
    pages: PageCache = request.app.state.pages
    version, body = pages.lookup(key)
    if body is not None:
        return Response(body, media_type=JSON)
    response = await read(request, work, bounded=bounded)
    pages.put(key, version, bytes(response.body))
    return response


def _reads_in_event_loop(database: Database) -> bool:
    engine = database.engine
    pool = engine.pool
    return engine.dialect.name == "sqlite" and isinstance(pool, QueuePool) and pool.checkedin() > 0
