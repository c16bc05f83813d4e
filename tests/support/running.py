"""The bot inside a test, as ``python -m bot`` runs it: the core, its platforms, the job runner."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import timedelta

from bot.app import Core
from bot.platform import Platform, PlatformSettings
from bot.platform.reconnect import Backoff
from bot.settings import Settings
from bot.tuning import Tuning

STOP_WITHIN_S = 30.0
FAST = Tuning(
    host_timeout=1.0,
    host_backoff=0.01,
    retry_delays=(0.05, 0.05),
    poll_s=0.05,
    status_after_s=0.5,
    progress_every_s=0.5,
    album_window=timedelta(seconds=0.3),
    reconnect=Backoff(first_s=0.1, most_s=2.0),
    unstored_patience_s=1.0,
)
"""Production's rules with test-sized waits: a fault test waits for retries, not minutes."""
QUICK = replace(FAST, host_timeout=30.0)
"""FAST, but a slow upload (a loaded machine, a host told to hang a while) is not a fault."""


@contextlib.asynccontextmanager
async def running(
    settings: Settings,
    *platforms: PlatformSettings,
    tuning: Tuning | None = None,
    jobs: bool = True,
    ready: Callable[[list[Platform]], Awaitable[None]] | None = None,
) -> AsyncIterator[Core]:
    """The core with ``platforms`` connected, each running as a task, the host watch, and
    (unless ``jobs`` is False) the job runner. ``ready`` is awaited before the test goes on. At
    the end the runner stops first (it may be answering), then the watch and the platforms;
    any task that ended with an error, or does not stop, fails the test."""
    core = await Core.start(settings, tuning)
    adapters = [core.connect(platform) for platform in platforms]
    tasks = [asyncio.create_task(core.work(jobs=jobs), name="work")]
    tasks += [asyncio.create_task(adapter.run(), name=adapter.name) for adapter in adapters]
    try:
        if ready is not None:
            await _while_running(ready(adapters), tasks)
        yield core
    finally:
        results = [await _stopped(task) for task in tasks]
        await core.close()
        failures = [r for r in results if not isinstance(r, asyncio.CancelledError | None)]
        assert failures == [], f"a task ended with {failures}"


async def _while_running(waiting: Awaitable[None], tasks: list[asyncio.Task[None]]) -> None:
    """Awaits ``waiting``; a task that ends first fails the test with its own error."""
    wait = asyncio.ensure_future(waiting)
    done, _ = await asyncio.wait({wait, *tasks}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
    if wait in done:
        wait.result()
        return
    wait.cancel()
    for task in done:
        task.result()
    raise AssertionError("a task ended, or the bot was not ready within 10 s")


async def _stopped(task: asyncio.Task[None]) -> BaseException | None:
    """The task's outcome once cancelled; a task that ignores its cancel fails the test with
    every pending task's stack, rather than hanging it."""
    task.cancel()
    try:
        async with asyncio.timeout(STOP_WITHIN_S):
            await task
    except TimeoutError:
        stacks = [f"{t.get_name()}: {t.get_stack()}" for t in asyncio.all_tasks() if not t.done()]
        raise AssertionError("the bot did not stop:\n" + "\n".join(stacks)) from None
    except BaseException as error:  # the caller checks that it is a cancellation
        return error
    return None
