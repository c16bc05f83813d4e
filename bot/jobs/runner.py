"""The job runner: claims durable jobs, uploads their files, answers once.

A job is one answer's worth of files (see ``bot.payloads``). It is written before the
platform's event is acknowledged, already running here when this worker has room for it (no
claim query then). Each job this worker runs has one owner (``RunningJob``), which saves each
finished file at once, so a job cut off by a crash resumes where it stopped and never uploads
a file twice. A job whose files failed in a way that passes (the host down) is tried again
later, and the user hears so at once in its status message (``bot.jobs.status``); after the
last attempt the answer says why.

Jobs in flight are shared fairly: one user holds at most ``UPLOAD_CONCURRENCY`` of this
worker's jobs, so another user's job is always claimed, and within a job the files take
their slots in the lanes (``bot.jobs.lanes``).

Several runners may share one PostgreSQL. Each renews its running jobs' leases every
``Tuning.heartbeat`` and holds a liveness lock (``bot.store.liveness``), so a runner that
dies has its jobs taken over within seconds, not when a lease runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import Counter
from datetime import UTC, datetime

from bot.domain import Outcome, Reply, Text, UserRef
from bot.jobs.outage import HostWatch, duration_text
from bot.jobs.replies import dm_closed, private_reply, public_reply, secret_reply
from bot.jobs.running import RunningJob
from bot.jobs.status import Meter, StatusMessage
from bot.ops.monitor import Monitor
from bot.payloads import FileResult, JobSpec
from bot.platform import JobHandler
from bot.store import FileCount, JobRecord, Store
from bot.store.liveness import WorkerLock
from bot.store.uploads import NewUpload
from bot.texts import t, unexpected
from bot.tuning import Tuning
from bot.upload.outcomes import AlreadyThere, Failed, Uploaded
from bot.upload.outcomes import Outcome as FileOutcome
from bot.upload.progress import Transfer
from bot.upload.service import UploadService

log = logging.getLogger(__name__)

ANSWER_GRACE_S = 10.0
"""On a stop, answers already being sent get this long to finish."""
User = tuple[str, str]
"""A job's user as the store names it: (platform, user id)."""


class JobRunner:
    """Claims jobs from the store and runs them; several runners may share one PostgreSQL."""

    def __init__(
        self,
        store: Store,
        service: UploadService,
        tuning: Tuning | None = None,
        *,
        monitor: Monitor | None = None,
        jobs_in_flight: int = 8,
        jobs_per_user: int | None = None,
        watch: HostWatch | None = None,
    ) -> None:
        self._store = store
        self._service = service
        self._tuning = tuning or Tuning()
        self._monitor = monitor or Monitor(store)
        self._watch = watch
        """The host up or down: while it is down, jobs wait for it and spend no attempt."""
        self._handlers: dict[str, JobHandler] = {}
        self._room = jobs_in_flight
        self._per_user = jobs_per_user or max(1, jobs_in_flight // 2)
        self._users: Counter[User] = Counter()
        """This worker's jobs in flight, by user."""
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._answering: set[asyncio.Future[None]] = set()
        self._serving = False
        """The runner runs: a job submitted here may start here at once."""
        self.worker = f"worker-{uuid.uuid4().hex[:12]}"
        self._born = datetime.now(UTC)

    def register(self, platform: str, handler: JobHandler) -> None:
        """Runs the jobs of ``platform`` (a platform's name) with ``handler``."""
        self._handlers[platform] = handler

    async def submit(self, spec: JobSpec, *, waiting_below: int | None = None) -> int:
        """Stores the job durably; acknowledge the event only after this. With room here for
        this user, the job is stored running here and starts at once; otherwise it waits its
        turn in the store. With ``waiting_below``, RateLimited (and nothing stored) when the
        user has that many jobs not finished."""
        user = (spec.user.platform, spec.user.id)
        if self._serving and spec.user.platform in self._handlers and self._has_room_for(user):
            self._users[user] += 1  # taken at once, before any other task runs
            try:
                record = await self._store.jobs.add_running(
                    spec, self.worker, self._tuning.lease, waiting_below=waiting_below
                )
            except BaseException:
                self._left(user)
                raise
            if not self._serving:  # stopped while the job was written: it waits for the next
                self._left(user)
                await self._hand_back(record.id)
                return record.id
            self._start(record)
            return record.id
        job_id = await self._store.jobs.add(spec, waiting_below=waiting_below)
        self._wake.set()
        return job_id

    def _has_room_for(self, user: User) -> bool:
        return sum(self._users.values()) < self._room and self._users[user] < self._per_user

    def _left(self, user: User) -> None:
        self._users[user] -= 1
        if not self._users[user]:
            del self._users[user]
        self._wake.set()

    async def _hand_back(self, job_id: int) -> None:
        """A job stored running here that this stopped runner will not run: pending again, so
        the next runner takes it at once. It is stored either way; if the database is away,
        its lease or the next start hands it on."""
        try:
            await self._store.jobs.release(job_id, self.worker)
        except Exception:
            log.warning("could not hand job %d back; its lease will", job_id, exc_info=True)

    async def collect(self, spec: JobSpec, group_key: str, max_items: int) -> int:
        """Stores one item of an album; the album runs as one job once its items stop coming."""
        return await self._store.jobs.collect(spec, group_key, max_items)

    async def run(self) -> None:
        """Runs jobs until cancelled; jobs cut off by a crash are picked up again."""
        platforms = frozenset(self._handlers)
        self._service.drop_stale()
        await self._resume(platforms)
        lock = self._store.jobs.worker_lock(self.worker, self._tuning.lock_settle)
        helpers = [asyncio.create_task(self._after_outages())]
        if lock is not None:
            helpers.append(asyncio.create_task(self._keep(lock)))
        self._serving = True
        try:
            await self._serve(platforms, lock)
        finally:
            self._serving = False
            await self._stop()
            for helper in helpers:
                helper.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            if lock is not None:
                await lock.release()

    async def _after_outages(self) -> None:
        """Each time the host comes back, the jobs that waited for it are due at once, oldest
        first as ever."""
        if self._watch is None:
            return
        while True:
            await self._watch.back()
            try:
                await self._store.jobs.due_now()
            except Exception:  # the database may be away: they come when their wait ends
                log.warning("could not wake the jobs that waited for the host", exc_info=True)
            self._wake.set()

    async def _resume(self, platforms: frozenset[str]) -> None:
        """On SQLite, what the last process left running is pending again; a database that
        is away now is waited for, as every other step of the runner waits for it."""
        while True:
            try:
                released = await self._store.jobs.release_jobs_of_dead_workers(
                    platforms, self._born
                )
            except Exception:  # the database may be restarting: try again soon
                log.warning("could not resume the jobs of the last stop; trying again")
                await asyncio.sleep(self._tuning.poll_s)
                continue
            if released:
                log.info("resuming %d job(s) cut off by the last stop", released)
            return

    async def _serve(self, platforms: frozenset[str], lock: WorkerLock | None) -> None:
        while True:
            job = await self._claim(platforms, lock) if self._has_room() else None
            if job is None:
                self._wake.clear()
                # Not wait_for: on Python 3.11 it swallows a stop that comes as the wake does.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._tuning.poll_s):
                        await self._wake.wait()
                continue
            self._start(job)

    def _has_room(self) -> bool:
        return sum(self._users.values()) < self._room

    def _start(self, job: JobRecord) -> None:
        """Runs a job this worker holds, already counted for its user (until it ends)."""
        task = asyncio.create_task(self._run_job(job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _keep(self, lock: WorkerLock) -> None:
        """Holds the liveness lock while the runner runs, taking it again whenever it is lost
        (a database restart); a database that is away is waited for."""
        while True:
            try:
                await lock.keep()
            except Exception as error:  # the database may be restarting: try again soon
                log.debug("could not take the liveness lock (%s)", type(error).__name__)
            await asyncio.sleep(self._tuning.lock_check_s)

    async def _stop(self) -> None:
        """Cancels running jobs, lets answers being sent finish, hands unfinished jobs back."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._answering:
            done, _ = await asyncio.wait(self._answering, timeout=ANSWER_GRACE_S)
            for answer in done:
                if not answer.cancelled() and answer.exception() is not None:
                    log.warning(
                        "an answer was cut off by the stop; it is sent again after the restart",
                        exc_info=answer.exception(),
                    )
        with contextlib.suppress(Exception):  # the database may be what is going away
            await self._store.jobs.release_jobs_of(self.worker)

    async def _claim(self, platforms: frozenset[str], lock: WorkerLock | None) -> JobRecord | None:
        """The next job, of a user with room left here; a dead worker's too, as soon as this
        worker's own lock has settled. The job counts for its user from here."""
        takeover = self._tuning.takeover_after if lock is not None and lock.settled else None
        full = [user for user, held in self._users.items() if held >= self._per_user]
        try:
            job = await self._store.jobs.claim(
                self.worker,
                self._tuning.lease,
                platforms,
                self._tuning.album_window,
                takeover,
                full_users=full,
            )
        except Exception:  # the database may be restarting: try again at the next poll
            log.warning("could not claim a job; the database may be unavailable", exc_info=True)
            return None
        if job is not None:
            self._users[(job.platform, job.user_id)] += 1
        return job

    async def _run_job(self, record: JobRecord) -> None:
        job = RunningJob(self._store.jobs, record, self.worker, self._tuning.lease)
        handler = self._handlers[job.platform]
        status = StatusMessage(job, handler)
        heartbeat = asyncio.create_task(self._heartbeat(job))
        try:
            await self._attempt(job, handler, status)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            await self._after_crash(job, handler, status, error)
        finally:
            heartbeat.cancel()
            self._left((record.platform, record.user_id))

    async def _after_crash(
        self, job: RunningJob, handler: JobHandler, status: StatusMessage, error: Exception
    ) -> None:
        """A job that broke is tried again; after its last try the user hears why, once."""
        with contextlib.suppress(Exception):
            if job.attempts < self._tuning.max_attempts:
                log.warning("job %d broke; it will be tried again", job.id, exc_info=error)
                delay = self._delay(job)
                await status.note_retry(None, delay, self._tuning.max_attempts)
                await job.retry_later(delay)
                return
            await handler.deliver(job.spec, Reply(unexpected(error)), job.status)
            await job.finish(())

    async def _heartbeat(self, job: RunningJob) -> None:
        """Renews the job's lease every few seconds, which also shows this worker alive."""
        while not job.lost:
            await asyncio.sleep(self._tuning.heartbeat.total_seconds())
            try:
                await job.renew()
            except Exception as error:  # the database may be restarting: the lease covers it
                log.debug("could not renew job %d's lease (%s)", job.id, type(error).__name__)

    def _delay(self, job: RunningJob) -> float:
        delays = self._tuning.retry_delays
        return delays[min(job.attempts, len(delays)) - 1]

    async def _attempt(self, job: RunningJob, handler: JobHandler, status: StatusMessage) -> None:
        if self._host_down():
            await self._wait_for_host(job, handler, status)
            return
        will_retry = job.attempts < self._tuning.max_attempts
        transfers = {index: Transfer() for index in job.pending()}
        medias = job.spec.medias(handler.fetch, job.id)
        tuning = self._tuning
        meter = Meter(
            status, transfers, after_s=tuning.status_after_s, every_s=tuning.progress_every_s
        )

        async def one(index: int) -> None:
            if job.lost:
                return
            outcome = await self._service.upload(medias[index], transfers[index])
            passing = await self._keep_outcome(job, index, outcome)
            if passing is not None and will_retry and not self._host_down():
                await status.note_retry(passing.reason, self._delay(job), self._tuning.max_attempts)

        meter.start()
        try:
            await asyncio.gather(*(one(index) for index in transfers))
        finally:
            await meter.stop()
        if job.lost:
            return
        passing = [r for r in job.files().values() if r.transient]
        if passing and self._host_down():
            await self._wait_for_host(job, handler, status)
            return
        if passing and will_retry:
            log.info(
                "job %d: a failure that passes, attempt %d; retrying later", job.id, job.attempts
            )
            delay = self._delay(job)
            await status.note_retry(passing[0].reason, delay, self._tuning.max_attempts)
            await job.retry_later(delay)
            return
        recent = min(self._tuning.heartbeat, self._tuning.takeover_after / 2).total_seconds()
        if not await job.still_mine(recent):
            return
        answering = asyncio.ensure_future(self._answer_and_finish(job, handler))
        self._answering.add(answering)
        answering.add_done_callback(self._answering.discard)
        await asyncio.shield(answering)

    def _host_down(self) -> bool:
        return self._watch is not None and self._watch.down_since is not None

    async def _wait_for_host(
        self, job: RunningJob, handler: JobHandler, status: StatusMessage
    ) -> None:
        """The host is down: the job waits for it without spending an attempt, its status
        saying so, and comes again at the next probe (or at once when the host is back). Past
        HOST_OUTAGE_PATIENCE since it came, its files not done are answered as failed."""
        assert self._watch is not None
        patience = self._watch.patience
        if datetime.now(UTC) - job.created_at >= patience:
            reason = t("error.host_down_too_long", patience=duration_text(patience))
            for index in job.pending():
                name = job.spec.items[index].filename
                job.failed_for_now(index, FileResult(name, Outcome.FAILED, reason=reason))
            await self._answer_and_finish(job, handler)
            return
        await status.show(t("upload.host_down"))
        await job.wait_for_host(self._tuning.host_probe_s)

    async def _keep_outcome(
        self, job: RunningJob, index: int, outcome: FileOutcome
    ) -> FileResult | None:
        """Hands a file's outcome to the job's owner; the result when it is a failure that
        passes (the job will try the file again)."""
        spec = job.spec
        if isinstance(outcome, Uploaded):
            new = NewUpload(
                spec.user,
                spec.chat,
                outcome.filename,
                outcome.image,
                outcome.size,
                outcome.form,
                outcome.note,
                spec.items[index].source,
                outcome.borrowed,
            )
            await job.uploaded(index, new)
            return None
        if isinstance(outcome, AlreadyThere):
            note = t("upload.duplicate_after_cut") if job.reached(index) else None
            await job.settled(index, FileResult(outcome.filename, Outcome.DUPLICATE, note=note))
            return None
        return await self._failed(job, index, outcome)

    async def _failed(self, job: RunningJob, index: int, failed: Failed) -> FileResult | None:
        result = FileResult(failed.filename, Outcome.FAILED, reason=failed.reason)
        if not failed.passing:
            await job.settled(index, result)
            return None
        if failed.reached_host:
            await job.reached_host(index)
        result = FileResult(failed.filename, Outcome.FAILED, reason=failed.reason, transient=True)
        job.failed_for_now(index, result)
        return result

    async def _answer_and_finish(self, job: RunningJob, handler: JobHandler) -> None:
        """Shielded from a stop: an answer half sent would be sent again after a restart. The
        job's end and its files' outcomes (what /stats counts) are one write."""
        files = list(job.files().values())
        await self._answer(job, handler, files)
        counts = [FileCount(job.platform, r.outcome.value, r.size) for r in files]
        await job.finish(counts)
        self._service.drop_kept(job.id)
        self._monitor.answered((datetime.now(UTC) - job.created_at).total_seconds())
        await self._monitor.files_done(counts)

    async def _nudge(self, user: UserRef, files: list[FileResult]) -> Text | None:
        """For a file that went up with a key not the user's own, once a day per user: it is
        not in their account, and /link keeps their uploads there (said only where the delete
        link goes, never in public)."""
        borrowed = next((f.borrowed for f in files if f.borrowed is not None), None)
        if borrowed is None or not await self._store.notices.first_today(user, "borrowed-key"):
            return None
        return t(f"upload.borrowed.{borrowed.value}")

    async def _answer(self, job: RunningJob, handler: JobHandler, files: list[FileResult]) -> None:
        """In a private chat, one message: links, delete links and Delete buttons, in place
        of the status message. Elsewhere the public reply, then the delete links for the
        uploader alone; the public reply is noted in the job once sent, so a retry after a
        failed delete-link message does not repeat it."""
        spec = job.spec
        nudge = await self._nudge(spec.user, files)
        if spec.chat.is_private:
            await handler.deliver(spec, private_reply(files, nudge), job.status)
            return
        secret = secret_reply(files, spec.chat, spec.ephemeral, nudge)
        if not job.public_sent:
            await handler.deliver(spec, public_reply(files), job.status)
            if secret is None:
                return
            await job.public_answer_sent()
        if secret is not None and not await handler.deliver(spec, secret, None):
            await handler.deliver(spec, dm_closed(), None)
