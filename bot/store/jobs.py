"""The durable job queue: jobs written before an event is acknowledged, claimed under a lease.

A job's spec and its results so far are sealed in its row. On PostgreSQL several
processes share the queue: ``FOR UPDATE SKIP LOCKED`` keeps two of them off one
row, and a lease renewed while a job runs lets another take it over if its worker
dies; a worker's liveness lock (``bot.store.liveness``) tells sooner that it died.
On SQLite only one process runs jobs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Update,
    bindparam,
    func,
    insert,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.dml import ReturningInsert
from sqlalchemy.sql.elements import BindParameter

from bot.errors import RateLimited
from bot.payloads import JobResults, JobSpec, results_of, results_to_json, spec_of, spec_to_json
from bot.store.database import Database, now, patient
from bot.store.liveness import WorkerLock, lock_held
from bot.store.stats import FileCount, add_outcomes
from bot.store.tables import Job, table_of
from bot.store.uploads import NewUpload, add_upload

PENDING, RUNNING, DONE, COLLECTING = "pending", "running", "done", "collecting"
JOBS = table_of(Job)
"""The job path writes through Core statements on this table: no ORM unit of work."""
_ID: BindParameter[int] = bindparam("job_id")
_WORKER: BindParameter[str] = bindparam("worker_id")

# The job path's statements, built once: SQLAlchemy compiles each once and caches it by the
# statement's identity, so a photo's writes cost no statement building or cache-key walks.
_RENEW = (
    update(JOBS)
    .where(JOBS.c.id == _ID, JOBS.c.worker == _WORKER, JOBS.c.state == RUNNING)
    .values(lease_until=bindparam("lease"), updated_at=bindparam("moment"))
)
_ONE = update(JOBS).where(JOBS.c.id == _ID)
_LET_GO = {"worker": None, "lease_until": None}
"""No worker holds the job any more."""
_SAVE = _ONE.values(sealed_results=bindparam("sealed"), updated_at=bindparam("moment"))
_SAVE_MINE = _SAVE.where(JOBS.c.worker == _WORKER, JOBS.c.state == RUNNING).values(
    lease_until=bindparam("lease")
)
_FINISH = _ONE.values(
    state=DONE, sealed_results=None, sealed_payload="", updated_at=bindparam("moment"), **_LET_GO
)
_LATER = _ONE.values(
    state=PENDING, not_before=bindparam("later"), updated_at=bindparam("moment"), **_LET_GO
)
_LATER_UNCOUNTED = _LATER.values(attempts=JOBS.c.attempts - 1)


@functools.cache
def _inserting(columns: tuple[str, ...], limited: bool) -> ReturningInsert[Any]:
    """The INSERT of a job with ``columns``; ``limited``: only while its user has fewer than
    ``waiting_below`` jobs not finished, counted in the same statement."""
    if not limited:
        return insert(JOBS).returning(JOBS.c.id)
    waiting = (
        select(func.count())
        .select_from(JOBS)
        .where(
            JOBS.c.platform == bindparam("platform"),
            JOBS.c.user_id == bindparam("user_id"),
            JOBS.c.state != DONE,
        )
        .scalar_subquery()
    )
    chosen = select(*(bindparam(c, type_=JOBS.c[c].type) for c in columns))
    limit: BindParameter[int] = bindparam("waiting_below")
    rows = chosen.where(waiting < limit)
    return insert(JOBS).from_select(list(columns), rows).returning(JOBS.c.id)


@dataclass(frozen=True, slots=True)
class JobRecord:
    """A claimed job: its spec, the attempt this is, and the results saved by earlier ones."""

    id: int
    platform: str
    user_id: str
    attempts: int
    spec: JobSpec
    results: JobResults
    created_at: datetime
    """When the job was stored: the event it answers came just before."""


def _not_of(users: Collection[tuple[str, str]]) -> list[ColumnElement[bool]]:
    """No job of these (platform, user id)."""
    if not users:
        return []
    return [~tuple_(JOBS.c.platform, JOBS.c.user_id).in_(list(users))]


class JobQueue:
    def __init__(self, db: Database) -> None:
        self._db = db

    def _seal(self, value: JobSpec | JobResults) -> str:
        written = spec_to_json(value) if isinstance(value, JobSpec) else results_to_json(value)
        return self._db.vault.seal(written)

    def _spec(self, job: Job | Row[Any]) -> JobSpec:
        return spec_of(self._db.vault.open(job.sealed_payload))

    async def add(self, spec: JobSpec, *, waiting_below: int | None = None) -> int:
        """Writes a job durably, pending; the adapter acknowledges the platform's event only
        after. With ``waiting_below``, only while the user has fewer jobs not finished, counted
        by the insert itself (no read before it); RateLimited when that many are waiting."""
        return await self._insert(spec, now(), waiting_below, state=PENDING, attempts=0)

    async def add_running(
        self, spec: JobSpec, worker: str, lease: timedelta, *, waiting_below: int | None = None
    ) -> JobRecord:
        """Writes a job durably, already running on ``worker`` under a lease: the claim folded
        into the insert, for a worker with a free slot. A crash leaves it to be taken over
        like any running job. ``waiting_below`` as for ``add``."""
        moment = now()
        values = {"state": RUNNING, "attempts": 1, "worker": worker, "lease_until": moment + lease}
        job_id = await self._insert(spec, moment, waiting_below, **values)
        return JobRecord(job_id, spec.user.platform, spec.user.id, 1, spec, JobResults(), moment)

    async def _insert(
        self, spec: JobSpec, moment: datetime, waiting_below: int | None, **values: object
    ) -> int:
        """One INSERT in the next group commit, its id returned by the database."""
        row = {
            "platform": spec.user.platform,
            "user_id": spec.user.id,
            "sealed_payload": self._seal(spec),
            "created_at": moment,
            "updated_at": moment,
            **values,
        }
        statement = _inserting(tuple(row), waiting_below is not None)
        if waiting_below is not None:
            row["waiting_below"] = waiting_below

        def write(c: Connection) -> int | None:
            job_id = c.scalar(statement, row)
            return None if job_id is None else int(job_id)

        job_id = await self._db.commits.write(write)
        if job_id is None:
            raise RateLimited("too many jobs waiting")
        return job_id

    async def collect(self, spec: JobSpec, group_key: str, max_items: int = 50) -> int:
        """Adds the spec's items to the job collecting ``group_key``, or starts that job.

        The job runs once no item has come for the album window (see ``claim``); a caption
        from any item becomes the job's caption. Past ``max_items`` an item is refused
        with RateLimited.
        """
        for _ in range(3):
            try:
                return await self._collect_once(spec, group_key, max_items)
            except IntegrityError:  # another process started this album's job just now
                continue
        return await self._collect_once(spec, group_key, max_items)

    async def _collect_once(self, spec: JobSpec, group_key: str, max_items: int) -> int:
        async with self._db.session.begin() as s:
            query = select(Job).where(Job.group_key == group_key).with_for_update()
            job = (await s.scalars(query)).first()
            if job is None:
                job = Job(
                    platform=spec.user.platform,
                    user_id=spec.user.id,
                    state=COLLECTING,
                    attempts=0,
                    group_key=group_key,
                    created_at=now(),
                    sealed_payload=self._seal(spec),
                )
                s.add(job)
            else:
                collected = self._spec(job)
                if len(collected.items) + len(spec.items) > max_items:
                    raise RateLimited("album too large")
                job.sealed_payload = self._seal(collected.joined(spec))
            job.updated_at = now()
            await s.flush()
            return job.id

    async def collecting(self, group_key: str) -> bool:
        """Whether an album's job is still collecting items (it has not started to run)."""
        async with self._db.session() as s:
            query = select(Job.id).where(Job.group_key == group_key)
            return (await s.scalars(query)).first() is not None

    def worker_lock(self, worker: str, settle: timedelta) -> WorkerLock | None:
        """The liveness lock of ``worker`` on PostgreSQL; None on SQLite, where one process
        runs the jobs and takes over what the last one left at its start."""
        if self._db.dialect != "postgresql":
            return None
        return WorkerLock(self._db, worker, settle)

    async def claim(
        self,
        worker: str,
        lease: timedelta,
        platforms: Collection[str],
        album_window: timedelta,
        takeover: timedelta | None = None,
        *,
        full_users: Collection[tuple[str, str]] = (),
    ) -> JobRecord | None:
        """Takes the oldest job that is pending, or whose worker's lease ran out, or the album
        that no new item has joined for ``album_window``; and, with ``takeover`` (on
        PostgreSQL), a running job whose worker holds no liveness lock and which has not
        been renewed for ``takeover``: its worker died, though its lease has not run out.
        Jobs of ``full_users`` (platform, user id), who have as many jobs in flight on this
        worker as one user may, are left for later: another user's job goes first.

        On PostgreSQL ``FOR UPDATE SKIP LOCKED`` keeps two processes off the same
        row; the conditional UPDATE keeps two tasks of one process apart everywhere.
        """
        moment = now()
        running = JOBS.c.state == RUNNING
        dead = running & (JOBS.c.lease_until < moment)
        if takeover is not None and self._db.dialect == "postgresql":
            stale = JOBS.c.updated_at < moment - takeover
            dead = dead | (running & stale & ~lock_held(JOBS.c.worker))
        due = or_(JOBS.c.not_before.is_(None), JOBS.c.not_before <= moment)
        claimable = or_(
            (JOBS.c.state == PENDING) & due,
            dead,
            (JOBS.c.state == COLLECTING) & (JOBS.c.updated_at < moment - album_window),
        )
        query = (
            select(JOBS)
            .where(claimable, JOBS.c.platform.in_(list(platforms)), *_not_of(full_users))
            .order_by(JOBS.c.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )

        def write(c: Connection) -> Row[Any] | None:
            job = c.execute(query).first()
            if job is None:
                return None
            taken = c.execute(
                update(JOBS)
                .where(
                    JOBS.c.id == job.id,
                    JOBS.c.state == job.state,
                    JOBS.c.updated_at == job.updated_at,
                )
                .values(
                    state=RUNNING,
                    group_key=None,
                    worker=worker,
                    lease_until=moment + lease,
                    attempts=job.attempts + 1,
                    updated_at=moment,
                )
            )
            return job if taken.rowcount == 1 else None

        job = await self._db.commits.write(write)
        return None if job is None else self._record(job, job.attempts + 1)

    def _record(self, job: Row[Any], attempts: int) -> JobRecord:
        results = (
            results_of(self._db.vault.open(job.sealed_results))
            if job.sealed_results
            else JobResults()
        )
        spec = self._spec(job)
        return JobRecord(job.id, job.platform, job.user_id, attempts, spec, results, job.created_at)

    async def renew_lease(self, job_id: int, worker: str, lease: timedelta) -> bool:
        """The heartbeat of a running job: extends its lease and shows its worker alive
        (``updated_at``). False when the job is no longer this worker's: it was taken over."""
        moment = now()
        values = {"job_id": job_id, "worker_id": worker, "lease": moment + lease}
        return await self._db.commits.write(_one_row(_RENEW, {**values, "moment": moment}))

    def _saving(
        self, job_id: int, results: JobResults, worker: str | None, lease: timedelta | None
    ) -> tuple[Update, dict[str, object]]:
        """The update that saves results, and its values; with ``worker``, only while the job
        runs there, and then its lease is renewed too: a save that succeeds shows the job this
        worker's for a while, as a heartbeat does."""
        moment = now()
        values: dict[str, object] = {
            "job_id": job_id,
            "sealed": self._seal(results),
            "moment": moment,
        }
        if worker is None or lease is None:
            return _SAVE, values
        return _SAVE_MINE, {**values, "worker_id": worker, "lease": moment + lease}

    @patient
    async def save_results(
        self,
        job_id: int,
        results: JobResults,
        worker: str | None = None,
        lease: timedelta | None = None,
    ) -> bool:
        """Saves a job's results so far; with ``worker``, only while the job runs there.
        False when it does not: another worker took it over, and its results are its own."""
        return await self._db.commits.write(_one_row(*self._saving(job_id, results, worker, lease)))

    @patient
    async def record_upload(
        self,
        job_id: int,
        index: int,
        new: NewUpload,
        results: JobResults,
        *,
        worker: str,
        lease: timedelta,
    ) -> tuple[JobResults, bool]:
        """Records a finished upload and saves the job's results with it as file ``index``, in
        one transaction: the results returned hold the record (its id is known only once it
        is written). The upload is recorded even when the job is no longer this worker's
        (False): it did happen, and its delete link belongs in the uploader's history."""

        def write(c: Connection) -> tuple[JobResults, bool]:
            record = add_upload(c, self._db.vault, new)
            done = results.with_file(index, new.result(record))
            saved = c.execute(*self._saving(job_id, done, worker, lease))
            return done, saved.rowcount == 1

        return await self._db.commits.write(write)

    @patient
    async def finish(self, job_id: int, counts: Collection[FileCount] = ()) -> None:
        """A finished job keeps no spec or results: they held what it needed, no more. Its
        files' outcomes (what /stats counts) are written in the same transaction."""
        values = {"job_id": job_id, "moment": now()}

        def write(c: Connection) -> None:
            c.execute(_FINISH, values)
            add_outcomes(c, counts)

        await self._db.commits.write(write)

    @patient
    async def retry_later(self, job_id: int, delay: timedelta, *, counted: bool = True) -> None:
        """Pending again once ``delay`` has passed; an attempt not ``counted`` (the host was
        down) is given back."""
        moment = now()
        values = {"job_id": job_id, "later": moment + delay, "moment": moment}
        statement = _LATER if counted else _LATER_UNCOUNTED
        await self._db.commits.write(_one_row(statement, values))

    async def due_now(self) -> None:
        """Every pending job waiting for a later moment may run now: the host is back."""
        async with self._db.session.begin() as s:
            await s.execute(
                update(Job)
                .where(Job.state == PENDING, Job.not_before > now())
                .values(not_before=None)
            )

    async def release(self, job_id: int, worker: str) -> bool:
        """Hands one job of ``worker`` back, pending: it did not start here after all."""
        return await self._release(Job.id == job_id, Job.worker == worker) == 1

    async def release_jobs_of(self, worker: str) -> int:
        """A stopping worker hands its running jobs back, so a restart need not wait for leases."""
        return await self._release(Job.worker == worker)

    async def release_jobs_of_dead_workers(
        self, platforms: Collection[str], since: datetime
    ) -> int:
        """On SQLite only this process runs jobs, so what was running before ``since`` (when
        this process's runner was made) was cut off by the last stop."""
        if self._db.dialect != "sqlite":
            return 0
        return await self._release(Job.updated_at < since, Job.platform.in_(list(platforms)))

    async def _release(self, *where: ColumnElement[bool]) -> int:
        async with self._db.session.begin() as s:
            result = await s.execute(
                update(Job)
                .where(Job.state == RUNNING, *where)
                .values(state=PENDING, worker=None, lease_until=None)
            )
            return int(getattr(result, "rowcount", 0))

    async def waiting(self) -> int:
        """Jobs stored and not answered yet, of every platform and user."""
        async with self._db.session() as s:
            query = select(func.count()).select_from(Job).where(Job.state != DONE)
            return int((await s.execute(query)).scalar_one())

    async def waiting_of(self, platform: str, user_id: str) -> int:
        """Jobs of one user not finished yet: what a per-user limit counts."""
        async with self._db.session() as s:
            query = (
                select(func.count())
                .select_from(Job)
                .where(Job.platform == platform, Job.user_id == user_id, Job.state != DONE)
            )
            return int((await s.execute(query)).scalar_one())


def _one_row(statement: Update, values: dict[str, object]) -> Callable[[Connection], bool]:
    """A conditional update as a write: whether it changed the one row it aims at."""

    def write(c: Connection) -> bool:
        return c.execute(statement, values).rowcount == 1

    return write
