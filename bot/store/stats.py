"""What /stats reads: each file's outcome and size, the host's last error, and live counts.

Outcomes are kept without user, file name or link: counts are all /stats shows.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.database import Database, now
from bot.store.tables import FileOutcome, HostErrorSeen, LinkedKey, table_of

KEEP = timedelta(days=8)
"""Outcomes older than this are dropped: /stats looks back seven days."""


@dataclass(frozen=True, slots=True)
class FileCount:
    """One finished file as /stats counts it: its platform, its outcome, the bytes uploaded."""

    platform: str
    outcome: str
    size: int = 0


_ADD_OUTCOMES = insert(table_of(FileOutcome))


def add_outcomes(c: Connection, counts: Collection[FileCount]) -> None:
    """Writes the outcomes in the connection's transaction: a job's are written with its end."""
    if not counts:
        return
    moment = now()
    rows = [
        {"platform": c.platform, "outcome": c.outcome, "bytes": c.size, "at": moment}
        for c in counts
    ]
    c.execute(_ADD_OUTCOMES, rows)


@dataclass(frozen=True, slots=True)
class Period:
    """One period's files by outcome, and the bytes uploaded."""

    outcomes: dict[str, int]
    bytes: int


@dataclass(frozen=True, slots=True)
class Stats:
    today: Period
    week: Period
    linked_users: int
    last_host_error: tuple[str, datetime] | None


class Outcomes:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, counts: Collection[FileCount]) -> None:
        """Counts files finished outside a job's end (a job's go with ``JobQueue.finish``)."""
        await self._db.commits.write(lambda c: add_outcomes(c, counts))

    async def host_error(self, kind: str) -> None:
        async with self._db.session.begin() as s:
            await s.merge(HostErrorSeen(id=1, kind=kind, at=now()))

    async def forget_old(self) -> None:
        async with self._db.session.begin() as s:
            await s.execute(delete(FileOutcome).where(FileOutcome.at < now() - KEEP))

    async def stats(self) -> Stats:
        moment = now()
        midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        async with self._db.session() as s:
            today = await self._period(s, midnight)
            week = await self._period(s, moment - timedelta(days=7))
            linked = await s.scalar(select(func.count()).select_from(LinkedKey))
            error = await s.get(HostErrorSeen, 1)
        last = None if error is None else (error.kind, error.at)
        return Stats(today, week, int(linked or 0), last)

    @staticmethod
    async def _period(s: AsyncSession, since: datetime) -> Period:
        rows = await s.execute(
            select(FileOutcome.outcome, func.count(), func.coalesce(func.sum(FileOutcome.bytes), 0))
            .where(FileOutcome.at >= since)
            .group_by(FileOutcome.outcome)
        )
        counted = [(outcome, int(n), int(size)) for outcome, n, size in rows.all()]
        return Period({o: n for o, n, _ in counted}, sum(size for _, _, size in counted))
