"""Channel backfills as the database keeps them: who asked, with what, how far each got, and the
row of every attachment seen (the CSV's).

A backfill is running, paused, stopped or finished. While it runs or is paused it holds its
channel (``active_channel``, unique): one backfill per channel at a time, across replicas. A
running one is worked on by one worker at a time, under a lease renewed as it goes, so another
replica (or this one, restarted) takes it over when its worker dies. Each message's rows and
the cursor past it are written together: a backfill resumed anywhere starts after the last
message it finished.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from bot.domain import ChatKind, ChatRef, UserRef
from bot.store.database import Database, now, patient
from bot.store.tables import Backfill, BackfillRow

RUNNING, PAUSED, STOPPED, FINISHED = "running", "paused", "stopped", "finished"
ROWS_PER_READ = 500
"""Rows read at a time for the CSV: memory stays flat however many the backfill saw."""


@dataclass(frozen=True, slots=True)
class BackfillOptions:
    """What the admin asked for: from when, how many messages at most, into which album, and
    whether the channel is age-restricted (every upload then NSFW)."""

    channel_name: str = ""
    """How the admin knows the channel (``#general``), for the reports."""
    since: date | None = None
    limit: int = 1000
    album: str | None = None
    nsfw: bool = False
    estimate: int | None = None
    """How many messages the channel holds, when the platform says."""


@dataclass(frozen=True, slots=True)
class Counts:
    """What a backfill did so far."""

    messages: int = 0
    uploaded: int = 0
    duplicate: int = 0
    already: int = 0
    skipped: int = 0
    failed: int = 0

    def plus(self, other: Counts) -> Counts:
        mine, theirs = asdict(self), asdict(other)
        return Counts(**{name: mine[name] + theirs[name] for name in mine})


@dataclass(frozen=True, slots=True)
class Row:
    """One attachment a backfill saw, as the CSV lists it."""

    message_url: str
    posted_at: datetime
    attachment_id: str
    filename: str
    original_url: str
    outcome: str
    viewer_url: str | None = None
    file_url: str | None = None
    thumbnail_url: str | None = None


@dataclass(frozen=True, slots=True)
class BackfillRecord:
    id: int
    admin: UserRef
    channel: ChatRef
    language: str
    options: BackfillOptions
    state: str
    reason: str | None
    after_id: str | None
    """History is read after this message (None: from the channel's start)."""
    until_id: str
    """…and before this one: the command's moment."""
    cursor: str | None
    """The last message whose every attachment has its row."""
    counts: Counts = field(default_factory=Counts)
    progress: str | None = None
    """The handle of the admin's progress message, once there is one."""

    @property
    def read_from(self) -> str | None:
        """Where the next page of history starts: after the cursor, else after ``after_id``."""
        return self.cursor or self.after_id

    @property
    def active(self) -> bool:
        return self.state in (RUNNING, PAUSED)


def _active_key(channel: ChatRef) -> str:
    return f"{channel.platform}:{channel.id}"


def _record(row: Backfill) -> BackfillRecord:
    options = json.loads(row.options)
    since = options.pop("since", None)
    return BackfillRecord(
        id=row.id,
        admin=UserRef(row.platform, row.admin_id),
        channel=ChatRef(row.platform, row.channel_id, ChatKind.CHANNEL, row.community),
        language=row.language,
        options=BackfillOptions(since=date.fromisoformat(since) if since else None, **options),
        state=row.state,
        reason=row.reason,
        after_id=row.after_id,
        until_id=row.until_id,
        cursor=row.cursor,
        counts=Counts(**json.loads(row.counts)),
        progress=row.progress,
    )


def _options_json(options: BackfillOptions) -> str:
    values = asdict(options)
    values["since"] = options.since.isoformat() if options.since else None
    return json.dumps(values)


class Backfills:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def start(
        self,
        admin: UserRef,
        channel: ChatRef,
        language: str,
        options: BackfillOptions,
        *,
        after_id: str | None,
        until_id: str,
    ) -> BackfillRecord | None:
        """A new running backfill of ``channel``; None when the channel has one already."""
        moment = now()
        try:
            async with self._db.session.begin() as s:
                backfill_id = await s.scalar(
                    insert(Backfill)
                    .values(
                        platform=channel.platform,
                        community=channel.community,
                        channel_id=channel.id,
                        active_channel=_active_key(channel),
                        admin_id=admin.id,
                        language=language,
                        options=_options_json(options),
                        state=RUNNING,
                        after_id=after_id,
                        until_id=until_id,
                        counts=json.dumps(asdict(Counts())),
                        created_at=moment,
                        updated_at=moment,
                    )
                    .returning(Backfill.id)
                )
        except IntegrityError:
            return None
        assert backfill_id is not None
        return BackfillRecord(
            int(backfill_id),
            admin,
            channel,
            language,
            options,
            RUNNING,
            None,
            after_id,
            until_id,
            None,
        )

    async def latest(self, channel: ChatRef) -> BackfillRecord | None:
        """The channel's last backfill, running or not."""
        async with self._db.session() as s:
            query = (
                select(Backfill)
                .where(Backfill.platform == channel.platform, Backfill.channel_id == channel.id)
                .order_by(Backfill.id.desc())
                .limit(1)
            )
            row = (await s.scalars(query)).first()
            return None if row is None else _record(row)

    async def read_up_to(self, channel: ChatRef) -> str | None:
        """Where the channel's last finished backfill stopped reading: a new one without a
        date goes on from there."""
        async with self._db.session() as s:
            query = (
                select(Backfill)
                .where(
                    Backfill.platform == channel.platform,
                    Backfill.channel_id == channel.id,
                    Backfill.state == FINISHED,
                )
                .order_by(Backfill.id.desc())
                .limit(1)
            )
            row = (await s.scalars(query)).first()
            return None if row is None else (row.cursor or row.after_id)

    async def get(self, backfill_id: int) -> BackfillRecord | None:
        async with self._db.session() as s:
            row = await s.get(Backfill, backfill_id)
            return None if row is None else _record(row)

    async def claim(
        self, worker: str, lease: timedelta, platforms: Sequence[str]
    ) -> BackfillRecord | None:
        """A running backfill no live worker holds (none, or its lease ran out), now this
        worker's."""
        moment = now()
        async with self._db.session.begin() as s:
            query = (
                select(Backfill)
                .where(
                    Backfill.state == RUNNING,
                    Backfill.platform.in_(list(platforms)),
                    or_(Backfill.worker.is_(None), Backfill.lease_until < moment),
                )
                .order_by(Backfill.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            row = (await s.scalars(query)).first()
            if row is None:
                return None
            taken = await s.execute(
                update(Backfill)
                .where(Backfill.id == row.id, Backfill.updated_at == row.updated_at)
                .values(worker=worker, lease_until=moment + lease, updated_at=moment)
            )
            if int(getattr(taken, "rowcount", 0)) != 1:
                return None
            return _record(row)

    async def renew(self, backfill_id: int, worker: str, lease: timedelta) -> bool:
        """Extends the lease while it runs here; False once it is not this worker's, or not
        running any more (paused, stopped)."""
        return await self._owned_update(backfill_id, worker, {"lease_until": now() + lease})

    @patient
    async def advance(
        self,
        backfill_id: int,
        worker: str,
        lease: timedelta,
        *,
        rows: Sequence[Row],
        cursor: str,
        counts: Counts,
    ) -> bool:
        """A message done: its rows and the cursor past it, one transaction; False (nothing
        written) once the backfill is not this worker's or not running."""
        moment = now()
        async with self._db.session.begin() as s:
            moved = await s.execute(
                update(Backfill)
                .where(Backfill.id == backfill_id, _running_on(worker))
                .values(
                    cursor=cursor,
                    counts=json.dumps(asdict(counts)),
                    lease_until=moment + lease,
                    updated_at=moment,
                )
            )
            if int(getattr(moved, "rowcount", 0)) != 1:
                return False
            if rows:
                values = [{"backfill_id": backfill_id, **asdict(row)} for row in rows]
                await s.execute(insert(BackfillRow), values)
            return True

    async def set_progress(self, backfill_id: int, handle: str) -> None:
        """The admin's progress message, to edit from any process."""
        async with self._db.session.begin() as s:
            await s.execute(
                update(Backfill).where(Backfill.id == backfill_id).values(progress=handle)
            )

    async def pause(self, backfill_id: int, worker: str, reason: str) -> bool:
        """Paused for ``reason`` (a sentence's key): it waits for ``resume``."""
        values: dict[str, object] = {"state": PAUSED, "reason": reason, "worker": None}
        values["lease_until"] = None
        return await self._owned_update(backfill_id, worker, values)

    async def resume(self, backfill_id: int) -> bool:
        """A paused backfill runs again (from its cursor)."""
        async with self._db.session.begin() as s:
            resumed = await s.execute(
                update(Backfill)
                .where(Backfill.id == backfill_id, Backfill.state == PAUSED)
                .values(state=RUNNING, reason=None, updated_at=now())
            )
            return int(getattr(resumed, "rowcount", 0)) == 1

    async def resume_paused_for(self, reason: str) -> None:
        """Every backfill paused for ``reason`` runs again (the host is back)."""
        async with self._db.session.begin() as s:
            await s.execute(
                update(Backfill)
                .where(Backfill.state == PAUSED, Backfill.reason == reason)
                .values(state=RUNNING, reason=None, updated_at=now())
            )

    async def stop(self, backfill_id: int) -> BackfillRecord | None:
        """Ended at the admin's word: what was done stays. The record, or None when it had
        ended already."""
        ended = await self._end(backfill_id, STOPPED, Backfill.state.in_([RUNNING, PAUSED]))
        return await self.get(backfill_id) if ended else None

    async def finish(self, backfill_id: int, worker: str) -> bool:
        """Read to its end (its limit, or the command's moment)."""
        return await self._end(backfill_id, FINISHED, _running_on(worker))

    async def release_stale(self, since: datetime) -> None:
        """On SQLite only this process works on backfills, so one held before ``since`` (this
        runner's birth) was held by the last process, stopped: it is free now."""
        if self._db.dialect != "sqlite":
            return
        async with self._db.session.begin() as s:
            await s.execute(
                update(Backfill)
                .where(Backfill.worker.is_not(None), Backfill.updated_at < since)
                .values(worker=None, lease_until=None)
            )

    async def release_of(self, worker: str) -> None:
        """A stopping worker hands back what it ran, for the next to take at once."""
        async with self._db.session.begin() as s:
            await s.execute(
                update(Backfill)
                .where(Backfill.worker == worker)
                .values(worker=None, lease_until=None)
            )

    async def rows(self, backfill_id: int) -> AsyncIterator[Row]:
        """Every row of the backfill, in the order they were written, a few at a time."""
        last = 0
        while True:
            async with self._db.session() as s:
                query = (
                    select(BackfillRow)
                    .where(BackfillRow.backfill_id == backfill_id, BackfillRow.id > last)
                    .order_by(BackfillRow.id)
                    .limit(ROWS_PER_READ)
                )
                found = (await s.scalars(query)).all()
            if not found:
                return
            for row in found:
                yield Row(
                    row.message_url,
                    row.posted_at,
                    row.attachment_id,
                    row.filename,
                    row.original_url,
                    row.outcome,
                    row.viewer_url,
                    row.file_url,
                    row.thumbnail_url,
                )
            last = found[-1].id

    async def _end(self, backfill_id: int, state: str, where: ColumnElement[bool]) -> bool:
        async with self._db.session.begin() as s:
            ended = await s.execute(
                update(Backfill)
                .where(Backfill.id == backfill_id, where)
                .values(
                    state=state,
                    active_channel=None,
                    worker=None,
                    lease_until=None,
                    updated_at=now(),
                )
            )
            return int(getattr(ended, "rowcount", 0)) == 1

    async def _owned_update(
        self, backfill_id: int, worker: str, values: Mapping[str, object]
    ) -> bool:
        async with self._db.session.begin() as s:
            changed = await s.execute(
                update(Backfill)
                .where(Backfill.id == backfill_id, _running_on(worker))
                .values(updated_at=now(), **values)
            )
            return int(getattr(changed, "rowcount", 0)) == 1


def _running_on(worker: str) -> ColumnElement[bool]:
    """Running, and on ``worker``: the one condition under which a worker writes to it."""
    return (Backfill.state == RUNNING) & (Backfill.worker == worker)
