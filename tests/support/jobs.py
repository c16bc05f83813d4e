"""Running a job runner inside a test, until every job it was given is finished."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from bot.jobs import JobRunner
from tests.support.waiting import eventually


@contextlib.asynccontextmanager
async def running(runner: JobRunner) -> AsyncIterator[None]:
    task = asyncio.create_task(runner.run())
    try:
        yield
        await eventually(lambda: no_unfinished_jobs(runner))
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def no_unfinished_jobs(runner: JobRunner) -> bool:
    return await runner._store.unfinished_jobs() == 0
