"""The durable job queue: jobs written before an event is acknowledged, claimed under a lease.

A job's spec and its results so far are sealed in its row. On PostgreSQL several
processes share the queue: ``FOR UPDATE SKIP LOCKED`` keeps two of them off one
row, and a lease renewed while a job runs lets another take it over if its worker
dies; a worker's liveness lock (``bot.store.liveness``) tells sooner that it died.
On SQLite only one process runs jobs.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Update, func, insert, or_, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from bot.errors import RateLimited
from bot.payloads import JobResults, JobSpec, results_of, results_to_json, spec_of, spec_to_json
from bot.store.database import Database, now, patient
from bot.store.liveness import WorkerLock, lock_held
from bot.store.stats import FileCount, add_outcomes
from bot.store.tables import Job
from bot.store.uploads import NewUpload, add_upload

PENDING, RUNNING, DONE, COLLECTING = "pending", "running", "done", "collecting"


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
    return [~tuple_(Job.platform, Job.user_id).in_(list(users))]


class JobQueue:
    def __init__(self, db: Database) -> None:
        self._db = db

    def _seal(self, value: JobSpec | JobResults) -> str:
        written = spec_to_json(value) if isinstance(value, JobSpec) else results_to_json(value)
        return self._db.vault.seal(written)

    def _spec(self, job: Job) -> JobSpec:
        return spec_of(self._db.vault.open(job.sealed_payload))

    async def add(self, spec: JobSpec) -> int:
        """Writes a job durably, pending; the adapter acknowledges the platform's event only
        after."""
        return await self._insert(spec, now(), state=PENDING, attempts=0)

    async def add_running(self, spec: JobSpec, worker: str, lease: timedelta) -> JobRecord:
        """Writes a job durably, already running on ``worker`` under a lease: the claim folded
        into the insert, for a worker with a free slot. A crash leaves it to be taken over
        like any running job."""
        moment = now()
        values = {"state": RUNNING, "attempts": 1, "worker": worker, "lease_until": moment + lease}
        job_id = await self._insert(spec, moment, **values)
        return JobRecord(job_id, spec.user.platform, spec.user.id, 1, spec, JobResults(), moment)

    async def _insert(self, spec: JobSpec, moment: datetime, **values: object) -> int:
        """One INSERT, its id returned by the database: nothing is read back."""
        async with self._db.session.begin() as s:
            job_id = await s.scalar(
                insert(Job)
                .values(
                    platform=spec.user.platform,
                    user_id=spec.user.id,
                    sealed_payload=self._seal(spec),
                    created_at=moment,
                    updated_at=moment,
                    **values,
                )
                .returning(Job.id)
            )
        assert job_id is not None
        return int(job_id)

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
        running = Job.state == RUNNING
        dead = running & (Job.lease_until < moment)
        if takeover is not None and self._db.dialect == "postgresql":
            dead = dead | (running & (Job.updated_at < moment - takeover) & ~lock_held(Job.worker))
        claimable = or_(
            (Job.state == PENDING) & (or_(Job.not_before.is_(None), Job.not_before <= moment)),
            dead,
            (Job.state == COLLECTING) & (Job.updated_at < moment - album_window),
        )
        async with self._db.session.begin() as s:
            query = (
                select(Job)
                .where(claimable, Job.platform.in_(list(platforms)), *_not_of(full_users))
                .order_by(Job.id)
                .limit(1)
                .with_for_update(skip_locked=True, of=Job)
            )
            job = (await s.scalars(query)).first()
            if job is None:
                return None
            attempts = job.attempts + 1
            taken = await s.execute(
                update(Job)
                .where(Job.id == job.id, Job.state == job.state, Job.updated_at == job.updated_at)
                .values(
                    state=RUNNING,
                    group_key=None,
                    worker=worker,
                    lease_until=moment + lease,
                    attempts=attempts,
                    updated_at=moment,
                )
                .execution_options(synchronize_session=False)
            )
            if getattr(taken, "rowcount", 0) != 1:
                return None
            return self._record(job, attempts)

    def _record(self, job: Job, attempts: int) -> JobRecord:
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
        async with self._db.session.begin() as s:
            renewed = await s.execute(
                update(Job)
                .where(Job.id == job_id, Job.worker == worker, Job.state == RUNNING)
                .values(lease_until=now() + lease, updated_at=now())
            )
            return int(getattr(renewed, "rowcount", 0)) == 1

    def _saving(
        self, job_id: int, results: JobResults, worker: str | None, lease: timedelta | None
    ) -> Update:
        """The update that saves results; with ``worker``, only while the job runs there, and
        then its lease is renewed too: a save that succeeds shows the job this worker's for a
        while, as a heartbeat does."""
        moment = now()
        mine = [Job.worker == worker, Job.state == RUNNING] if worker is not None else []
        renewed = {} if worker is None or lease is None else {"lease_until": moment + lease}
        return (
            update(Job)
            .where(Job.id == job_id, *mine)
            .values(sealed_results=self._seal(results), updated_at=moment, **renewed)
        )

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
        async with self._db.session.begin() as s:
            saved = await s.execute(self._saving(job_id, results, worker, lease))
            return int(getattr(saved, "rowcount", 0)) == 1

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
        async with self._db.session.begin() as s:
            record = await add_upload(s, self._db.vault, new)
            results = results.with_file(index, new.result(record))
            saved = await s.execute(self._saving(job_id, results, worker, lease))
            return results, int(getattr(saved, "rowcount", 0)) == 1

    @patient
    async def finish(self, job_id: int, counts: Collection[FileCount] = ()) -> None:
        """A finished job keeps no spec or results: they held what it needed, no more. Its
        files' outcomes (what /stats counts) are written in the same transaction."""
        async with self._db.session.begin() as s:
            await s.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(
                    state=DONE,
                    sealed_results=None,
                    sealed_payload="",
                    worker=None,
                    lease_until=None,
                    updated_at=now(),
                )
            )
            await add_outcomes(s, counts)

    @patient
    async def retry_later(self, job_id: int, delay: timedelta, *, counted: bool = True) -> None:
        """Pending again once ``delay`` has passed; an attempt not ``counted`` (the host was
        down) is given back."""
        spent = {} if counted else {"attempts": Job.attempts - 1}
        async with self._db.session.begin() as s:
            await s.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(
                    state=PENDING,
                    worker=None,
                    lease_until=None,
                    not_before=now() + delay,
                    updated_at=now(),
                    **spent,
                )
            )

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
