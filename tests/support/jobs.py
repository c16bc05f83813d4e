"""Running a job runner inside a test, and counting the jobs not finished yet."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from bot.jobs.runner import JobRunner
from bot.store import Store
from tests.support.waiting import eventually


async def unfinished_jobs(store: Store) -> int:
    """Jobs stored and not answered yet, on every platform."""
    return await store.jobs.waiting()


@contextlib.asynccontextmanager
async def running(runner: JobRunner, store: Store) -> AsyncIterator[None]:
    """The runner as a task; on leaving, waits until every job is finished, then stops it."""
    task = asyncio.create_task(runner.run())
    try:
        yield
        await eventually(lambda: _all_finished(store))
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _all_finished(store: Store) -> bool:
    return await unfinished_jobs(store) == 0
