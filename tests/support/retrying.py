"""What the retry-feedback tests share: their timings, and a way to skip a job's wait."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select, update

from bot.store import Store
from bot.store.jobs import PENDING
from bot.store.tables import Job
from tests.support.running import FAST

FEEDBACK_WITHIN_S = 5.0
"""The user hears that the bot will try again within this long of the failure."""
NOTE = "The host is not answering; trying again in 1 s (2 of 3)."
"""The note after a first attempt that failed at the host, with FAST's retry delays."""
LAST_NOTE = "The host is not answering; trying again in 1 s (3 of 3)."
HOST_UNAVAILABLE = "The host cannot be reached right now. Try again later."
PAUSED = replace(FAST, retry_delays=(60.0, 60.0))
"""FAST, but a job that failed waits a minute: a bot stopped after the note has not retried."""
PAUSED_NOTE = "The host is not answering; trying again in 60 s (2 of 3)."


async def due_now(store: Store) -> None:
    """Every job waiting to be tried again may be tried now (as if its wait had passed)."""
    async with store.db.session.begin() as s:
        await s.execute(update(Job).where(Job.state == PENDING).values(not_before=None))


async def waiting_to_retry(store: Store) -> bool:
    """Every job is back in the queue, its status message saved, after its first attempt."""
    async with store.db.session() as s:
        rows = (await s.execute(select(Job.state, Job.attempts))).all()
    return bool(rows) and all(tuple(row) == (PENDING, 1) for row in rows)
