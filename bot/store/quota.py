"""Per-user daily counts kept in the database, so that they hold across replicas and restarts:
shared-key uploads against SHARED_KEY_DAILY_LIMIT, and notices said at most once a day."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from bot.domain import UserRef
from bot.store.database import Database, now
from bot.store.tables import Notice, SharedKeyUse


def today() -> date:
    """The UTC day: quotas and notices turn over at midnight UTC for everyone."""
    return now().date()


class _Raced(Exception):
    """Another process inserted today's row between this one's update and its read."""


class SharedKeyQuota:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def used(self, user: UserRef) -> int:
        """Shared-key uploads the user made today."""
        async with self._db.session() as s:
            row = await s.get(SharedKeyUse, (user.platform, user.id, today()))
            return 0 if row is None else row.used

    async def take(self, user: UserRef, limit: int) -> bool:
        """Counts one more shared-key upload for today, unless ``limit`` is reached; atomic, so
        replicas uploading for the same user at once never pass the limit together."""
        for _ in range(5):
            try:
                return await self._take_once(user, limit)
            except (IntegrityError, _Raced):  # another replica counted the same user just now
                continue
        return await self._take_once(user, limit)

    async def _take_once(self, user: UserRef, limit: int) -> bool:
        key = (user.platform, user.id, today())
        async with self._db.session.begin() as s:
            counted = await s.execute(
                update(SharedKeyUse)
                .where(
                    SharedKeyUse.platform == key[0],
                    SharedKeyUse.user_id == key[1],
                    SharedKeyUse.day == key[2],
                    SharedKeyUse.used < limit,
                )
                .values(used=SharedKeyUse.used + 1)
            )
            if getattr(counted, "rowcount", 0) == 1:
                return True
            row = await s.get(SharedKeyUse, key)
            if row is not None:
                if row.used >= limit:
                    return False
                raise _Raced  # the row appeared after the update looked: count again
            s.add(SharedKeyUse(platform=key[0], user_id=key[1], day=key[2], used=1))
            return limit > 0

    async def give_back(self, user: UserRef) -> None:
        """Uncounts one upload that did not happen (it failed, or the host had the file)."""
        async with self._db.session.begin() as s:
            await s.execute(
                update(SharedKeyUse)
                .where(
                    SharedKeyUse.platform == user.platform,
                    SharedKeyUse.user_id == user.id,
                    SharedKeyUse.day == today(),
                    SharedKeyUse.used > 0,
                )
                .values(used=SharedKeyUse.used - 1)
            )


class Notices:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def first_today(self, user: UserRef, kind: str) -> bool:
        """True once per user, kind and UTC day: whether to say it now."""
        async with self._db.session.begin() as s:
            row = (
                await s.scalars(
                    select(Notice)
                    .where(
                        Notice.platform == user.platform,
                        Notice.user_id == user.id,
                        Notice.kind == kind,
                    )
                    .with_for_update()
                )
            ).first()
            if row is not None and row.day == today():
                return False
            if row is None:
                s.add(Notice(platform=user.platform, user_id=user.id, kind=kind, day=today()))
            else:
                row.day = today()
            return True
