"""Per-user daily counts kept in the database, so that they hold across replicas and restarts:
shared-key uploads against SHARED_KEY_DAILY_LIMIT, and notices said at most once a day."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from sqlalchemy import Connection, and_, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from bot.domain import UserRef
from bot.store.database import Database, now
from bot.store.tables import LinkedKey, Notice, SharedKeyUse, table_of


def today() -> date:
    """The UTC day: quotas and notices turn over at midnight UTC for everyone."""
    return now().date()


class _Raced(Exception):
    """Another process inserted today's row between this one's update and its read."""


_USES = table_of(SharedKeyUse)
_NOTICES = table_of(Notice)

# Built once, with the user and the day as parameters: each upload with a shared key costs
# no statement building.
_TODAY = and_(
    _USES.c.platform == bindparam("of_platform"),
    _USES.c.user_id == bindparam("of_user"),
    _USES.c.day == bindparam("of_day"),
)
_USED = select(_USES.c.used).where(_TODAY)
_LINKED = and_(
    LinkedKey.platform == bindparam("of_platform"), LinkedKey.user_id == bindparam("of_user")
)
_USED_UNLESS_LINKED = select(
    select(LinkedKey.user_id).where(_LINKED).exists(), _USED.scalar_subquery()
)
_TAKE = update(_USES).where(_TODAY, _USES.c.used < bindparam("limit")).values(used=_USES.c.used + 1)
_FIRST = insert(_USES).values(
    platform=bindparam("of_platform"), user_id=bindparam("of_user"), day=bindparam("of_day"), used=1
)
_GIVE_BACK = update(_USES).where(_TODAY, _USES.c.used > 0).values(used=_USES.c.used - 1)
_NOTICE_OF = and_(
    _NOTICES.c.platform == bindparam("of_platform"),
    _NOTICES.c.user_id == bindparam("of_user"),
    _NOTICES.c.kind == bindparam("of_kind"),
)
_SAID_ON = select(_NOTICES.c.day).where(_NOTICE_OF).with_for_update()
_SAY = insert(_NOTICES).values(
    platform=bindparam("of_platform"),
    user_id=bindparam("of_user"),
    kind=bindparam("of_kind"),
    day=bindparam("on_day"),
)
_SAY_AGAIN = update(_NOTICES).where(_NOTICE_OF).values(day=bindparam("on_day"))


def _today_of(user: UserRef) -> dict[str, object]:
    return {"of_platform": user.platform, "of_user": user.id, "of_day": today()}


class SharedKeyQuota:
    """Written on the job path, so through its group commit."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def used_unless_linked(self, user: UserRef) -> int | None:
        """Today's shared-key uploads, or None when the user linked a key of their own: one
        round trip for the question every upload of a user without a key asks."""
        async with self._db.engine.connect() as c:
            linked, used = (await c.execute(_USED_UNLESS_LINKED, _today_of(user))).one()
        return None if linked else int(used or 0)

    async def take(self, user: UserRef, limit: int) -> bool:
        """Counts one more shared-key upload for today, unless ``limit`` is reached; atomic, so
        replicas uploading for the same user at once never pass the limit together."""
        for _ in range(5):
            try:
                return await self._db.commits.write(_taking(user, limit))
            except (IntegrityError, _Raced):  # another replica counted the same user just now
                continue
        return await self._db.commits.write(_taking(user, limit))

    async def give_back(self, user: UserRef) -> None:
        """Uncounts one upload that did not happen (it failed, or the host had the file)."""
        values = _today_of(user)

        def write(c: Connection) -> None:
            c.execute(_GIVE_BACK, values)

        await self._db.commits.write(write)


def _taking(user: UserRef, limit: int) -> Callable[[Connection], bool]:
    values = _today_of(user)

    def write(c: Connection) -> bool:
        if c.execute(_TAKE, {**values, "limit": limit}).rowcount == 1:
            return True
        used = c.scalar(_USED, values)
        if used is not None:
            if used >= limit:
                return False
            raise _Raced  # the row appeared after the update looked: count again
        c.execute(_FIRST, values)
        return limit > 0

    return write


MAX_REMEMBERED = 10_000
"""Notices this process remembers as said today; past that it asks the database again."""


class Notices:
    """Said at most once a day; a notice this process knows was said today is not asked for
    again (the database is asked only for what this process has not seen said)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._said: set[tuple[str, str, str, date]] = set()

    async def first_today(self, user: UserRef, kind: str) -> bool:
        """True once per user, kind and UTC day: whether to say it now."""
        day = today()
        seen = (user.platform, user.id, kind, day)
        if seen in self._said:
            return False
        first = await self._db.commits.write(_noting(user, kind, day))
        if len(self._said) > MAX_REMEMBERED:
            self._said.clear()
        self._said.add(seen)
        return first


def _noting(user: UserRef, kind: str, day: date) -> Callable[[Connection], bool]:
    values = {"of_platform": user.platform, "of_user": user.id, "of_kind": kind, "on_day": day}

    def write(c: Connection) -> bool:
        said = c.scalar(_SAID_ON, values)
        if said == day:
            return False
        c.execute(_SAY if said is None else _SAY_AGAIN, values)
        return True

    return write
