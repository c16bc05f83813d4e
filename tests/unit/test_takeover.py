"""Fast takeover: on PostgreSQL a running job whose worker's liveness lock is gone, and which
has not been renewed for a few seconds, is taken over long before its lease runs out; a live
worker's job never is, not even when a database restart drops every lock at once."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import asyncpg
import pytest
from sqlalchemy import text

from bot.chevereto import CheveretoClient
from bot.chevereto.probe import probe_png
from bot.crypto import Vault
from bot.jobs.lanes import Lanes
from bot.jobs.runner import JobRunner
from bot.ops.monitor import Monitor
from bot.payloads import JobSpec
from bot.store import Store
from bot.tuning import Tuning
from bot.upload.service import UploadService
from tests.conftest import ALICE, KEY, LIMITS_MB, POSTGRES_URL, PRIVATE, SECRET
from tests.support.fakes.chevereto import FakeChevereto
from tests.support.job_handler import RecordingHandler, file
from tests.support.jobs import unfinished_jobs
from tests.support.waiting import eventually

LEASE = timedelta(seconds=60)
TUNING = Tuning(
    poll_s=0.05,
    heartbeat=timedelta(seconds=0.2),
    takeover_after=timedelta(seconds=0.6),
    lock_settle=timedelta(seconds=1.5),
    lock_check_s=0.1,
)
"""Production's rules, each wait scaled down about five times."""
PLATFORMS = frozenset({"telegram"})


def spec() -> JobSpec:
    return JobSpec(ALICE, PRIVATE, "en", (file("a.png"),))


@contextlib.asynccontextmanager
async def runner_of(runner: JobRunner) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(runner.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def worker_of_the_job(store: Store) -> str | None:
    async with store.db.session() as s:
        return (await s.execute(text("SELECT worker FROM jobs"))).scalar_one_or_none()


async def claimed_by_a_dead_worker(store: Store) -> int:
    """A job claimed by a worker that then died: it holds no lock, its lease runs a minute."""
    job_id = await store.jobs.add(spec())
    claimed = await store.jobs.claim("worker-dead", LEASE, PLATFORMS, timedelta(seconds=1))
    assert claimed is not None
    return job_id


@pytest.mark.postgres_only
async def test_a_dead_worker_s_job_is_taken_over_within_seconds(store, service, chevereto):
    """No lock, silent for ``takeover_after``: taken over at once, though its lease has 60 s
    to run. (On SQLite one process runs the jobs and takes over what was left at its start.)"""
    await store.keys.link(ALICE, KEY)
    await claimed_by_a_dead_worker(store)
    handler = RecordingHandler({"a.png": probe_png()})
    runner = JobRunner(store, service, TUNING)
    runner.register("telegram", handler)
    started = time.monotonic()
    async with runner_of(runner):
        await handler.wait_for_replies(1, timeout=5)
    assert time.monotonic() - started < 3
    assert len(chevereto.upload_requests) == 1


@pytest.mark.postgres_only
async def test_a_live_worker_s_silent_job_is_left_to_it(database, store, service):
    """A worker that holds its lock keeps its job even when it renewed nothing for a while:
    the lock, not a shorter lease, says a worker died."""
    await store.keys.link(ALICE, KEY)
    await claimed_by_a_dead_worker(store)
    alive = store.jobs.worker_lock("worker-dead", TUNING.lock_settle)
    assert alive is not None
    other = Store(database, Vault(SECRET))
    runner = JobRunner(other, service, TUNING)
    handler = RecordingHandler({"a.png": probe_png()})
    runner.register("telegram", handler)
    try:
        await alive.keep()
        async with runner_of(runner):
            await asyncio.sleep(2 * TUNING.takeover_after.total_seconds())
            assert await worker_of_the_job(store) == "worker-dead"
            await alive.release()
            await handler.wait_for_replies(1, timeout=5)
    finally:
        await alive.release()
        await other.close()


@contextlib.asynccontextmanager
async def restarting(database: str) -> AsyncIterator[None]:
    """What a restart does to this database, without touching the shared server: it accepts
    no connection, and every session (every lock) ends; on leaving, it accepts them again."""
    admin = await asyncpg.connect(POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://"))
    name = database.rsplit("/", 1)[1]
    try:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
        )
        yield
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await admin.close()


@pytest.mark.slow  # about 6 s: the upload outlasts a database outage and the settling after it
@pytest.mark.postgres_only
async def test_a_database_restart_makes_no_job_run_twice(
    database, store, chevereto: FakeChevereto, temp_dir
):
    """The database goes away long enough for every heartbeat to go stale, and every lock
    with it, while a job is at the host. When it is back, the other worker (its own lock
    taken anew) waits for the live one to take its lock again: the file is uploaded and
    answered once, by the worker that had it."""
    await store.keys.link(ALICE, KEY)
    chevereto.delay = 5.0  # the upload is at the host all through the restart
    client = CheveretoClient(chevereto.url, timeout=30)
    service = UploadService(
        client,
        store,
        limit_mb=LIMITS_MB.__getitem__,
        temp_dir=temp_dir,
        lanes=Lanes.of(4, 4, 2),
        monitor=Monitor(store),
    )
    stores = [store, Store(database, Vault(SECRET))]
    handlers = [RecordingHandler({"a.png": probe_png()}) for _ in stores]
    # The worker with the job renews and checks its lock seldom, the other polls often: after
    # the restart the other has its lock back first, and must still leave the job alone.
    slow = replace(TUNING, lock_check_s=1.0, heartbeat=timedelta(seconds=1))
    runners = [JobRunner(stores[0], service, slow), JobRunner(stores[1], service, TUNING)]
    for runner, handler in zip(runners, handlers, strict=True):
        runner.register("telegram", handler)
    try:
        async with runner_of(runners[0]):
            await runners[0].submit(spec())
            await eventually(lambda: len(chevereto.upload_requests) == 1)
            async with runner_of(runners[1]):
                await asyncio.sleep(TUNING.lock_settle.total_seconds())
                async with restarting(database):
                    await asyncio.sleep(3 * TUNING.takeover_after.total_seconds())
                await handlers[0].wait_for_replies(1, timeout=30)
                await asyncio.sleep(0.5)
    finally:
        await stores[1].close()
        await client.aclose()
    assert handlers[1].sent == []
    assert len(chevereto.upload_requests) == 1
    assert len(chevereto.images) == 1
    assert await unfinished_jobs(store) == 0
