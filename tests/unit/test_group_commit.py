"""Group commit on a real database: writes that come together share one commit, each is
released only once it is durable, and a commit that fails releases every waiter with its
error and loses nothing that was good."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import Connection, event, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.crypto import Vault
from bot.errors import RateLimited
from bot.payloads import JobSpec
from bot.store import Store
from bot.store.commits import GroupCommit
from bot.store.jobs import JOBS
from tests.conftest import ALICE, PRIVATE, SECRET
from tests.support.job_handler import file


def _foreign_keys_on(dbapi_connection: Any, _: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


@pytest.fixture
async def engine(database: str) -> AsyncIterator[AsyncEngine]:
    """The test's database with two tables of its own: ``child`` rows must name a ``parent``,
    checked only at commit (a deferred constraint), so a bad row fails the commit itself."""
    engine = create_async_engine(database)
    if database.startswith("sqlite"):
        event.listen(engine.sync_engine, "connect", _foreign_keys_on)
    async with engine.begin() as c:
        await c.execute(text("CREATE TABLE parent (id INTEGER PRIMARY KEY)"))
        await c.execute(
            text(
                "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL "
                "REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)"
            )
        )
        await c.execute(text("INSERT INTO parent (id) VALUES (1)"))
    yield engine
    await engine.dispose()


def child(row_id: int, parent_id: int = 1) -> Any:
    """A write adding one child row; it returns the row's id."""

    def write(c: Connection) -> int:
        c.execute(
            text("INSERT INTO child (id, parent_id) VALUES (:id, :parent)"),
            {"id": row_id, "parent": parent_id},
        )
        return row_id

    return write


def group_on(engine: AsyncEngine) -> GroupCommit:
    """The job path's group commit on the test's database, foreign keys checked on SQLite."""
    group = GroupCommit(engine)
    if engine.dialect.name == "sqlite":
        event.listen(group.engine, "connect", _foreign_keys_on)
    return group


async def children(engine: AsyncEngine) -> set[int]:
    async with engine.connect() as c:
        return set((await c.scalars(text("SELECT id FROM child"))).all())


def counting_commits(group: GroupCommit) -> list[int]:
    commits: list[int] = []
    event.listen(group.engine, "commit", lambda _: commits.append(1))
    return commits


async def test_writes_that_come_together_share_a_commit(engine):
    group = group_on(engine)
    commits = counting_commits(group)
    done = await asyncio.gather(*(group.write(child(n)) for n in range(1, 21)))
    await group.close()
    assert done == list(range(1, 21))
    assert await children(engine) == set(range(1, 21))
    assert 1 <= len(commits) <= 2  # the first write's commit, then the other 19 together


async def test_each_write_is_released_only_once_committed(engine):
    """When a caller hears back, its row is there for any other connection to read."""
    group = group_on(engine)

    async def write_then_read(n: int) -> bool:
        await group.write(child(n))
        return n in await children(engine)

    assert all(await asyncio.gather(*(write_then_read(n) for n in range(1, 11))))
    await group.close()


async def test_a_commit_that_fails_releases_every_waiter_with_its_error(engine):
    """Every write of the batch names a parent that does not exist: the commit fails, and
    each caller gets the error, none is left waiting, no row is written."""
    group = group_on(engine)
    outcomes = await asyncio.wait_for(
        asyncio.gather(
            *(group.write(child(n, parent_id=9)) for n in range(1, 9)), return_exceptions=True
        ),
        timeout=10,
    )
    await group.close()
    assert all(isinstance(o, IntegrityError) for o in outcomes), outcomes
    assert await children(engine) == set()


async def test_one_bad_write_fails_alone_and_the_good_ones_are_kept(engine):
    """The batch's commit fails for one write: the batch is run again a write at a time, so the
    others are committed and only that one caller hears the error."""
    group = group_on(engine)
    writes = [child(n, parent_id=9 if n == 4 else 1) for n in range(1, 9)]
    outcomes = await asyncio.gather(*(group.write(w) for w in writes), return_exceptions=True)
    await group.close()
    assert isinstance(outcomes[3], IntegrityError)
    assert [o for i, o in enumerate(outcomes) if i != 3] == [1, 2, 3, 5, 6, 7, 8]
    assert await children(engine) == {1, 2, 3, 5, 6, 7, 8}


async def test_a_write_after_a_failed_commit_goes_through(engine):
    group = group_on(engine)
    with pytest.raises(IntegrityError):
        await group.write(child(1, parent_id=9))
    assert await group.write(child(2)) == 2
    await group.close()
    assert await children(engine) == {2}


async def test_jobs_stored_together_each_get_their_own_id(database):
    """The job path's inserts, gathered: every job stored once, each caller told its own id."""
    store = Store(database, Vault(SECRET))
    specs = [JobSpec(ALICE, PRIVATE, "en", (file(f"{n}.png"),)) for n in range(12)]
    ids = await asyncio.gather(*(store.jobs.add(spec) for spec in specs))
    async with store.db.engine.connect() as c:
        stored = set((await c.scalars(select(JOBS.c.id))).all())
    await store.close()
    assert len(set(ids)) == 12
    assert stored == set(ids)


async def test_the_waiting_count_is_taken_in_the_insert(database):
    """Twelve files of one user at once, at most five waiting: five are stored, the other seven
    are refused, and nothing of theirs is written."""
    store = Store(database, Vault(SECRET))
    specs = [JobSpec(ALICE, PRIVATE, "en", (file(f"{n}.png"),)) for n in range(12)]
    outcomes = await asyncio.gather(
        *(store.jobs.add(spec, waiting_below=5) for spec in specs), return_exceptions=True
    )
    waiting = await store.jobs.waiting_of(ALICE.platform, ALICE.id)
    await store.close()
    assert sum(isinstance(o, int) for o in outcomes) == 5
    assert sum(isinstance(o, RateLimited) for o in outcomes) == 7
    assert waiting == 5
