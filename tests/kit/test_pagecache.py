"""PageCache: a page is served again only while nothing has committed since it was rendered."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from mailfleet.kit.pagecache import ENTRY_OVERHEAD, PageCache

KEY = ("mailboxes", "workspace", None, 50)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'pages.db'}")
    with engine.begin() as connection:
        connection.execute(text("PRAGMA journal_mode=WAL"))
        connection.execute(text("CREATE TABLE notes (body TEXT)"))
    yield engine
    engine.dispose()


def write(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO notes VALUES ('changed')"))


def test_a_page_is_served_until_another_connection_commits(engine: Engine) -> None:
    cache = PageCache(engine, max_bytes=1024)
    version, body = cache.lookup(KEY)
    assert body is None
    cache.put(KEY, version, b"page")
    assert cache.lookup(KEY) == (version, b"page")
    assert cache.lookup(("mailboxes", "other workspace", None, 50))[1] is None

    write(engine)

    assert cache.lookup(KEY)[1] is None


def test_a_commit_from_another_process_empties_it(engine: Engine) -> None:
    cache = PageCache(engine, max_bytes=1024)
    version, _ = cache.lookup(KEY)
    cache.put(KEY, version, b"page")
    path = engine.url.database
    script = (
        "import sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1])\n"
        "c.execute(\"INSERT INTO notes VALUES ('from the worker')\")\n"
        "c.commit()\n"
    )
    subprocess.run([sys.executable, "-c", script, str(path)], check=True)

    assert cache.lookup(KEY)[1] is None


def test_a_page_whose_query_raced_a_commit_is_not_served(engine: Engine) -> None:
    cache = PageCache(engine, max_bytes=1024)
    version, _ = cache.lookup(KEY)
    write(engine)  # commits while the page is being rendered
    cache.put(KEY, version, b"page rendered from before or after the commit")

    assert cache.lookup(KEY)[1] is None


def test_the_least_recently_used_page_goes_when_it_is_full(engine: Engine) -> None:
    # Room for two entries of four bytes, each also costing ENTRY_OVERHEAD.
    cache = PageCache(engine, max_bytes=2 * (4 + ENTRY_OVERHEAD))
    version, _ = cache.lookup("a")
    cache.put("a", version, b"aaaa")
    cache.put("b", version, b"bbbb")
    cache.lookup("a")
    cache.put("c", version, b"cccc")
    cache.put("too big", version, b"x" * (2 * 4 + ENTRY_OVERHEAD + 1))

    assert [cache.lookup(key)[1] for key in ("a", "b", "c", "too big")] == [
        b"aaaa",
        None,
        b"cccc",
        None,
    ]


def test_it_is_off_without_memory_and_on_postgresql(engine: Engine) -> None:
    for cache in (
        PageCache(engine, max_bytes=0),
        PageCache(create_engine("postgresql+psycopg://nobody@127.0.0.1/none"), max_bytes=1024),
    ):
        assert not cache.enabled
        cache.put(KEY, cache.lookup(KEY)[0], b"page")
        assert cache.lookup(KEY) == (None, None)
