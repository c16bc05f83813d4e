"""The job runner: claims durable jobs, uploads their files, answers once.

A job is one answer's worth of files (see ``bot.payloads``). It is written before
the platform's event is acknowledged; each finished file is saved in it at once,
so a job cut off by a crash resumes where it stopped and never uploads a file
twice. A job whose files failed in a way that passes (the host down) is tried
again later, then answered with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from datetime import UTC, datetime, timedelta

from bot.answers import dm_closed, public_reply, secret_reply
from bot.chevereto import Progress
from bot.domain import Reply
from bot.payloads import IncomingMedia, JobResults, JobSpec
from bot.platform import JobHandler
from bot.store import JobRecord, Store
from bot.texts import t, unexpected
from bot.tuning import Tuning
from bot.upload import UploadService

log = logging.getLogger(__name__)

PROGRESS_MIN_BYTES = 4 * 1024 * 1024
"""Files smaller than this upload too fast for a progress message to help."""
PROGRESS_EVERY_S = 2.0
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
        jobs_in_flight: int = 8,
    ) -> None:
        tuning = tuning or Tuning()
        self._store = store
        self._service = service
        self._handlers: dict[str, JobHandler] = {}
        self._max_attempts = tuning.max_attempts
        self._retry_delays = tuning.retry_delays
        self._lease = tuning.lease
        self._poll_s = tuning.poll_s
        self._album_window = tuning.album_window
        self._slots = asyncio.Semaphore(jobs_in_flight)
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._answering: set[asyncio.Future[None]] = set()
        self.worker = f"worker-{uuid.uuid4().hex[:12]}"
        self._born = datetime.now(UTC)

    def register(self, platform: str, handler: JobHandler) -> None:
        """Runs the jobs of ``platform`` (a platform's name) with ``handler``."""
        self._handlers[platform] = handler

    async def submit(self, spec: JobSpec) -> int:
        """Stores the job durably and wakes the runner; acknowledge the event only after this."""
        job_id = await self._store.jobs.add(spec)
        self._wake.set()
        return job_id

    async def collect(self, spec: JobSpec, group_key: str, max_items: int) -> int:
        """Stores one item of an album; the album runs as one job once its items stop coming."""
        return await self._store.jobs.collect(spec, group_key, max_items)

    async def run(self) -> None:
        """Runs jobs until cancelled; jobs cut off by a crash are picked up again."""
        platforms = frozenset(self._handlers)
        released = await self._store.jobs.release_jobs_of_dead_workers(platforms, self._born)
        if released:
            log.info("resuming %d job(s) cut off by the last stop", released)
        try:
            while True:
                await self._slots.acquire()
                job = await self._claim(platforms)
                if job is None:
                    self._slots.release()
                    self._wake.clear()
                    # Not wait_for: on Python 3.11 it swallows a stop that comes as the wake does.
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self._poll_s):
                            await self._wake.wait()
                    continue
                task = asyncio.create_task(self._run_job(job))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        finally:
            await self._stop()

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

    async def _claim(self, platforms: frozenset[str]) -> JobRecord | None:
        try:
            return await self._store.jobs.claim(
                self.worker, self._lease, platforms, self._album_window
            )
        except Exception:  # the database may be restarting: try again at the next poll
            log.warning("could not claim a job; the database may be unavailable", exc_info=True)
            return None

    async def _run_job(self, job: JobRecord) -> None:
        heartbeat = asyncio.create_task(self._heartbeat(job.id))
        try:
            await self._attempt(job)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            await self._after_crash(job, error)
        finally:
            heartbeat.cancel()
            self._slots.release()
            self._wake.set()

    async def _after_crash(self, job: JobRecord, error: Exception) -> None:
        """A job that broke is tried again; after its last try the user hears why, once."""
        with contextlib.suppress(Exception):
            if job.attempts < self._max_attempts:
                log.warning("job %d broke; it will be tried again", job.id, exc_info=error)
                await self._store.jobs.retry_later(job.id, timedelta(seconds=self._delay(job)))
                return
            await self._handlers[job.platform].deliver(job.spec, Reply(unexpected(error)))
            await self._store.jobs.finish(job.id)

    async def _heartbeat(self, job_id: int) -> None:
        while True:
            await asyncio.sleep(self._lease.total_seconds() / 3)
            with contextlib.suppress(Exception):
                await self._store.jobs.renew_lease(job_id, self.worker, self._lease)

    def _delay(self, job: JobRecord) -> float:
        return self._retry_delays[min(job.attempts, len(self._retry_delays)) - 1]

    async def _attempt(self, job: JobRecord) -> None:
        handler = self._handlers[job.platform]
        results = await self._upload_missing(job, handler)
        transient = any(result.transient for result in results.files.values())
        if transient and job.attempts < self._max_attempts:
            log.info("job %d: host unavailable, attempt %d, retrying later", job.id, job.attempts)
            await self._store.jobs.retry_later(job.id, timedelta(seconds=self._delay(job)))
            return
        answering = asyncio.ensure_future(
            self._answer_and_finish(job.id, job.spec, handler, results)
        )
        self._answering.add(answering)
        answering.add_done_callback(self._answering.discard)
        await asyncio.shield(answering)

    async def _upload_missing(self, job: JobRecord, handler: JobHandler) -> JobResults:
        """Uploads the files not done yet, saving each result as soon as it is known."""
        files = job.results.settled()
        medias = job.spec.medias(handler.fetch)
        meter = _Meter(handler, job.spec, medias)
        lock = asyncio.Lock()

        async def one(index: int, media: IncomingMedia) -> None:
            files[index] = await self._service.upload_item(media, meter.for_item(index))
            async with lock:
                await self._store.jobs.save_results(job.id, JobResults(dict(files)))

        await asyncio.gather(*(one(i, m) for i, m in enumerate(medias) if i not in files))
        return JobResults(dict(sorted(files.items())), job.results.public_sent)

    async def _answer_and_finish(
        self, job_id: int, spec: JobSpec, handler: JobHandler, results: JobResults
    ) -> None:
        """Shielded from a stop: an answer half sent would be sent again after a restart."""
        await self._answer(job_id, spec, handler, results)
        await self._store.jobs.finish(job_id)

    async def _answer(
        self, job_id: int, spec: JobSpec, handler: JobHandler, results: JobResults
    ) -> None:
        """The public reply, noted in the job once sent (a retry after a failed delete-link
        message must not repeat it), then the delete links."""
        files = list(results.files.values())
        if not results.public_sent:
            await handler.deliver(spec, public_reply(files))
            await self._store.jobs.save_results(job_id, JobResults(results.files, public_sent=True))
        secret = secret_reply(files, spec.chat, spec.ephemeral)
        if secret is not None and not await handler.deliver(spec, secret):
            await handler.deliver(spec, dm_closed())


class _Meter:
    """Adds up the bytes sent of a job's files and shows a percentage, at most every 2 s."""

    def __init__(self, handler: JobHandler, spec: JobSpec, medias: list[IncomingMedia]) -> None:
        self._handler, self._spec = handler, spec
        self._sent: dict[int, int] = {}
        self._total = sum(m.file.size or 0 for m in medias)
        self._shown_at = 0.0

    def for_item(self, index: int) -> Progress | None:
        if self._total < PROGRESS_MIN_BYTES:
            return None

        async def report(sent: int, total: int) -> None:
            del total
            self._sent[index] = sent
            moment = time.monotonic()
            if moment - self._shown_at < PROGRESS_EVERY_S:
                return
            self._shown_at = moment
            percent = min(99, 100 * sum(self._sent.values()) // max(self._total, 1))
            with contextlib.suppress(Exception):  # a status message is a courtesy, not a duty
                await self._handler.progress(self._spec, t("upload.progress", percent=percent))

        return report
