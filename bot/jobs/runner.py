"""The job runner: claims durable jobs, uploads their files, answers once.

A job is one answer's worth of files (see ``bot.payloads``). It is written before
the platform's event is acknowledged, already running here when a slot is free (no
claim query then); each finished file is saved in it at once, so a job cut off by a
crash resumes where it stopped and never uploads a file twice. A job whose files
failed in a way that passes (the host down) is tried again later, and the user hears
so at once in the job's status message (see ``bot.jobs.state``); after the last attempt
the answer says why.

Several runners may share one PostgreSQL. Each renews its running jobs' leases
every ``Tuning.heartbeat`` and holds a liveness lock (``bot.store.liveness``), so a
runner that dies has its jobs taken over within seconds, not when a lease runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from datetime import UTC, datetime, timedelta

from bot.domain import Reply
from bot.jobs.replies import dm_closed, private_reply, public_reply, secret_reply
from bot.jobs.state import JobState, Meter
from bot.ops.monitor import Monitor
from bot.payloads import IncomingMedia, JobResults, JobSpec
from bot.platform import JobHandler
from bot.store import FileCount, JobRecord, Store
from bot.store.liveness import WorkerLock
from bot.texts import unexpected
from bot.tuning import Tuning
from bot.upload.service import UploadService

log = logging.getLogger(__name__)

ANSWER_GRACE_S = 10.0
"""On a stop, answers already being sent get this long to finish."""


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
    ) -> None:
        self._store = store
        self._service = service
        self._tuning = tuning or Tuning()
        self._monitor = monitor or Monitor(store)
        self._handlers: dict[str, JobHandler] = {}
        self._slots = asyncio.Semaphore(jobs_in_flight)
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

    async def submit(self, spec: JobSpec) -> int:
        """Stores the job durably; acknowledge the event only after this. With a slot free,
        the job is stored running here and starts at once; otherwise it waits its turn."""
        if self._serving and spec.user.platform in self._handlers and not self._slots.locked():
            await self._slots.acquire()  # free: taken at once, before any other task runs
            try:
                job = await self._store.jobs.add_running(spec, self.worker, self._tuning.lease)
            except BaseException:
                self._slots.release()
                raise
            if not self._serving:  # stopped while the job was written: it waits for the next
                self._slots.release()
                await self._hand_back(job.id)
                return job.id
            self._start(job)
            return job.id
        job_id = await self._store.jobs.add(spec)
        self._wake.set()
        return job_id

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
        released = await self._store.jobs.release_jobs_of_dead_workers(platforms, self._born)
        if released:
            log.info("resuming %d job(s) cut off by the last stop", released)
        lock = self._store.jobs.worker_lock(self.worker, self._tuning.lock_settle)
        keeper = None if lock is None else asyncio.create_task(self._keep(lock))
        self._serving = True
        try:
            await self._serve(platforms, lock)
        finally:
            self._serving = False
            await self._stop()
            if keeper is not None and lock is not None:
                keeper.cancel()
                await asyncio.gather(keeper, return_exceptions=True)
                await lock.release()

    async def _serve(self, platforms: frozenset[str], lock: WorkerLock | None) -> None:
        while True:
            await self._slots.acquire()
            job = await self._claim(platforms, lock)
            if job is None:
                self._slots.release()
                self._wake.clear()
                # Not wait_for: on Python 3.11 it swallows a stop that comes as the wake does.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._tuning.poll_s):
                        await self._wake.wait()
                continue
            self._start(job)

    def _start(self, job: JobRecord) -> None:
        """Runs a job this worker holds, in a slot already taken for it."""
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
        """The next job; a dead worker's too, as soon as this worker's own lock has settled."""
        takeover = self._tuning.takeover_after if lock is not None and lock.settled else None
        try:
            return await self._store.jobs.claim(
                self.worker, self._tuning.lease, platforms, self._tuning.album_window, takeover
            )
        except Exception:  # the database may be restarting: try again at the next poll
            log.warning("could not claim a job; the database may be unavailable", exc_info=True)
            return None

    async def _run_job(self, job: JobRecord) -> None:
        handler = self._handlers[job.platform]
        state = JobState(self._store.jobs, job, handler, self.worker, self._tuning.lease)
        heartbeat = asyncio.create_task(self._heartbeat(state))
        try:
            await self._attempt(state)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            await self._after_crash(state, error)
        finally:
            heartbeat.cancel()
            self._slots.release()
            self._wake.set()

    async def _after_crash(self, state: JobState, error: Exception) -> None:
        """A job that broke is tried again; after its last try the user hears why, once."""
        job = state.job
        with contextlib.suppress(Exception):
            if job.attempts < self._tuning.max_attempts:
                log.warning("job %d broke; it will be tried again", job.id, exc_info=error)
                delay = self._delay(job)
                await state.note_retry(None, delay, self._tuning.max_attempts)
                await self._retry_later(state, delay)
                return
            await state.handler.deliver(state.spec(), Reply(unexpected(error)))
            state.releasing = True
            await self._store.jobs.finish(job.id)

    async def _heartbeat(self, state: JobState) -> None:
        """Renews the job's lease every few seconds, which also shows this worker alive; a job
        found to be another worker's is left to it."""
        while True:
            await asyncio.sleep(self._tuning.heartbeat.total_seconds())
            since = time.monotonic()
            try:
                owned = await self._store.jobs.renew_lease(
                    state.job.id, self.worker, self._tuning.lease
                )
            except Exception as error:  # the database may be restarting: the lease covers it
                log.debug("could not renew job %d's lease (%s)", state.job.id, type(error).__name__)
                continue
            if owned:
                state.confirm(since)
            else:
                state.lose()

    def _delay(self, job: JobRecord) -> float:
        delays = self._tuning.retry_delays
        return delays[min(job.attempts, len(delays)) - 1]

    async def _retry_later(self, state: JobState, delay: float) -> None:
        state.releasing = True
        await self._store.jobs.retry_later(state.job.id, timedelta(seconds=delay))

    async def _attempt(self, state: JobState) -> None:
        job = state.job
        results = await self._upload_missing(state)
        if state.lost:
            return
        transient = [result for result in results.files.values() if result.transient]
        if transient and job.attempts < self._tuning.max_attempts:
            log.info("job %d: host unavailable, attempt %d, retrying later", job.id, job.attempts)
            delay = self._delay(job)
            await state.note_retry(transient[0].reason, delay, self._tuning.max_attempts)
            await self._retry_later(state, delay)
            return
        if not await self._still_mine(state):
            return
        answering = asyncio.ensure_future(self._answer_and_finish(state, results))
        self._answering.add(answering)
        answering.add_done_callback(self._answering.discard)
        await asyncio.shield(answering)

    async def _upload_missing(self, state: JobState) -> JobResults:
        """Uploads the files not done yet, saving each result as soon as it is known; the
        first failure that passes tells the user at once that the job will try again."""
        job = state.job
        medias = job.spec.medias(state.handler.fetch, job.id)
        meter = Meter(state, medias)
        will_retry = job.attempts < self._tuning.max_attempts

        async def one(index: int, media: IncomingMedia) -> None:
            if state.lost:
                return
            progress, record = meter.for_item(index), state.recorder(index)
            result = await self._service.upload_item(media, progress, record)
            await state.file_done(index, result)
            if result.transient and will_retry:
                await state.note_retry(result.reason, self._delay(job), self._tuning.max_attempts)

        meter.start()
        try:
            await asyncio.gather(*(one(i, m) for i, m in enumerate(medias) if i not in state.files))
        finally:
            await meter.stop()
        return state.results()

    async def _still_mine(self, state: JobState) -> bool:
        """Checked before answering: a job taken over by another worker is answered there.
        A job a write found this worker's a moment ago (its last file's result) needs no
        check: a takeover waits several heartbeats without one."""
        tuning = self._tuning
        recent = min(tuning.heartbeat, tuning.takeover_after / 2).total_seconds()
        if state.confirmed_within(recent):
            return True
        since = time.monotonic()
        try:
            owned = await self._store.jobs.renew_lease(
                state.job.id, self.worker, self._tuning.lease
            )
        except Exception:  # the database may be restarting: the answer's writes wait for it
            return True
        if owned:
            state.confirm(since)
        else:
            state.lose()
        return owned

    async def _answer_and_finish(self, state: JobState, results: JobResults) -> None:
        """Shielded from a stop: an answer half sent would be sent again after a restart. The
        job's end and its files' outcomes (what /stats counts) are one write."""
        await self._answer(state, results)
        state.releasing = True
        job = state.job
        counts = [FileCount(job.platform, r.outcome.value, r.size) for r in results.files.values()]
        await self._store.jobs.finish(job.id, counts)
        self._service.drop_kept(job.id)
        self._monitor.answered((datetime.now(UTC) - job.created_at).total_seconds())
        await self._monitor.files_done(counts)

    async def _answer(self, state: JobState, results: JobResults) -> None:
        """In a private chat, one message: links, delete links and Delete buttons, in place
        of the status message. Elsewhere the public reply, then the delete links for the
        uploader alone; the public reply is noted in the job once sent, so a retry after a
        failed delete-link message does not repeat it."""
        files = list(results.files.values())
        handler, spec = state.handler, state.job.spec
        if spec.chat.is_private:
            await handler.deliver(state.spec(), private_reply(files))
            return
        secret = secret_reply(files, spec.chat, spec.ephemeral)
        if not state.public_sent:
            await handler.deliver(state.spec(), public_reply(files))
            if secret is None:
                return
            state.public_sent = True
            await state.save()
        if secret is not None and not await handler.deliver(spec, secret):
            await handler.deliver(spec, dm_closed())
