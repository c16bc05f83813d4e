"""Durable upload jobs: written before the platform's event is acknowledged, run, answered once.

A job is one answer's worth of files. Its spec holds what the adapter needs to
fetch each file again (file ids, message ids — never a URL holding a token)
and to answer. Each finished file is saved in the job at once, so a job cut off
by a crash resumes where it stopped and never uploads a file twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from bot.answers import Done, dm_closed, public_reply, secret_reply
from bot.domain import (
    ChatKind,
    ChatRef,
    IncomingMedia,
    ItemResult,
    Outcome,
    Platform,
    Reply,
    Text,
    UploadOptions,
    UserRef,
)
from bot.errors import HostUnavailable, SourceUnavailable
from bot.store import JobRecord, Store, database_unavailable
from bot.texts import Language, error_text, t, unexpected
from bot.upload import Progress, UploadService

log = logging.getLogger(__name__)

PROGRESS_MIN_BYTES = 4 * 1024 * 1024
"""Files smaller than this upload too fast for a progress message to help."""
PROGRESS_EVERY_S = 2.0
ANSWER_GRACE_S = 10.0
"""On a stop, answers already being sent get this long to finish."""


@dataclass(frozen=True, slots=True)
class JobSpec:
    """Who asked, where to answer, and the adapter's references to each file."""

    user: UserRef
    chat: ChatRef
    language: Language
    items: list[dict[str, Any]]
    caption: str | None = None
    options: UploadOptions = field(default_factory=UploadOptions)
    ephemeral: bool = False
    answer: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        o = self.options
        return {
            "user": self.user.id,
            "platform": self.user.platform.value,
            "chat": self.chat.id,
            "chat_kind": self.chat.kind.value,
            "language": self.language,
            "items": self.items,
            "caption": self.caption,
            "ephemeral": self.ephemeral,
            "answer": self.answer,
            "options": {
                "title": o.title,
                "description": o.description,
                "tags": list(o.tags),
                "album_id": o.album_id,
                "category_id": o.category_id,
                "width": o.width,
                "expiration": o.expiration,
                "nsfw": o.nsfw,
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobSpec:
        platform = Platform(data["platform"])
        options = dict(data["options"])
        options["tags"] = tuple(options["tags"])
        return cls(
            user=UserRef(platform, data["user"]),
            chat=ChatRef(platform, data["chat"], ChatKind(data["chat_kind"])),
            language=data["language"],
            items=list(data["items"]),
            caption=data["caption"],
            options=UploadOptions(**options),
            ephemeral=data["ephemeral"],
            answer=data["answer"],
        )


class JobHandler(Protocol):
    """What an adapter provides to run its jobs: the files, and a way to answer."""

    def media(self, spec: JobSpec) -> list[IncomingMedia]:
        """One IncomingMedia per item of the spec, in order, whose fetch downloads it again."""
        ...

    async def send(self, spec: JobSpec, reply: Reply) -> bool:
        """Sends a reply; False when a PRIVATE_TO_USER reply cannot reach the user."""
        ...

    async def progress(self, spec: JobSpec, text: Text) -> None:
        """Shows or updates the job's one status message."""
        ...


def _result_json(index: int, item: ItemResult) -> dict[str, Any]:
    error = item.error
    transient = isinstance(error, HostUnavailable | SourceUnavailable) or (
        error is not None and database_unavailable(error)
    )
    reason = None if item.error is None else error_text(item.error).to_json()
    return {
        "index": index,
        "filename": item.filename,
        "outcome": item.outcome.value,
        "upload_id": item.upload_id,
        "reason": reason,
        "transient": transient,
    }


class JobRunner:
    """Claims jobs from the store and runs them; several runners may share one PostgreSQL."""

    def __init__(
        self,
        store: Store,
        service: UploadService,
        *,
        max_attempts: int = 3,
        retry_delays: tuple[float, ...] = (5.0, 30.0),
        lease: timedelta = timedelta(seconds=60),
        poll_s: float = 1.0,
        jobs_in_flight: int = 8,
    ) -> None:
        self._store = store
        self._service = service
        self._handlers: dict[Platform, JobHandler] = {}
        self._max_attempts = max_attempts
        self._retry_delays = retry_delays
        self._lease = lease
        self._poll_s = poll_s
        self._slots = asyncio.Semaphore(jobs_in_flight)
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._answering: set[asyncio.Future[None]] = set()
        self.worker = f"worker-{uuid.uuid4().hex[:12]}"
        self._born = datetime.now(UTC)

    def register(self, platform: Platform, handler: JobHandler) -> None:
        self._handlers[platform] = handler

    async def submit(self, spec: JobSpec) -> int:
        """Stores the job durably and wakes the runner; acknowledge the event only after this."""
        job_id = await self._store.add_job(spec.user.platform, spec.user.id, spec.to_json())
        self._wake.set()
        return job_id

    async def collect(self, spec: JobSpec, group_key: str, max_items: int) -> int:
        """Stores one item of an album; the album runs as one job once its items stop coming."""
        return await self._store.collect_item(
            spec.user.platform, spec.user.id, group_key, spec.to_json(), max_items
        )

    async def run(self) -> None:
        """Runs jobs until cancelled; jobs cut off by a crash are picked up again."""
        platforms = frozenset(self._handlers)
        released = await self._store.release_jobs_of_dead_workers(platforms, self._born)
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
                await self._store.release_jobs_of(self.worker)

    async def _claim(self, platforms: frozenset[Platform]) -> JobRecord | None:
        try:
            return await self._store.claim_job(self.worker, self._lease, platforms)
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
                await self._store.retry_job_later(job.id, timedelta(seconds=self._delay(job)))
                return
            spec = JobSpec.from_json(job.payload)
            await self._handlers[job.platform].send(spec, Reply(unexpected(error)))
            await self._store.finish_job(job.id)

    async def _heartbeat(self, job_id: int) -> None:
        while True:
            await asyncio.sleep(self._lease.total_seconds() / 3)
            with contextlib.suppress(Exception):
                await self._store.renew_lease(job_id, self.worker, self._lease)

    def _delay(self, job: JobRecord) -> float:
        return self._retry_delays[min(job.attempts, len(self._retry_delays)) - 1]

    async def _attempt(self, job: JobRecord) -> None:
        spec = JobSpec.from_json(job.payload)
        handler = self._handlers[job.platform]
        results = await self._upload_missing(job, spec, handler)
        transient = any(r["transient"] for r in results)
        if transient and job.attempts < self._max_attempts:
            log.info("job %d: host unavailable, attempt %d, retrying later", job.id, job.attempts)
            await self._store.retry_job_later(job.id, timedelta(seconds=self._delay(job)))
            return
        answering = asyncio.ensure_future(self._answer_and_finish(job, spec, handler, results))
        self._answering.add(answering)
        answering.add_done_callback(self._answering.discard)
        await asyncio.shield(answering)

    async def _answer_and_finish(
        self, job: JobRecord, spec: JobSpec, handler: JobHandler, results: list[dict[str, Any]]
    ) -> None:
        """Shielded from a stop: an answer half sent would be sent again after a restart."""
        await self._answer(job.id, spec, handler, results)
        await self._store.finish_job(job.id)

    async def _upload_missing(
        self, job: JobRecord, spec: JobSpec, handler: JobHandler
    ) -> list[dict[str, Any]]:
        """Uploads the files not done yet, saving each result as soon as it is known."""
        done = {r["index"]: r for r in job.results if not r["transient"]}
        medias = handler.media(spec)
        meter = _Meter(handler, spec, medias)
        lock = asyncio.Lock()

        async def one(index: int, media: IncomingMedia) -> None:
            item = await self._service.upload_item(media, meter.for_item(index))
            async with lock:
                done[index] = _result_json(index, item)
                await self._store.save_results(job.id, list(done.values()))

        await asyncio.gather(*(one(i, m) for i, m in enumerate(medias) if i not in done))
        return [done[i] for i in sorted(done)]

    async def _answer(
        self, job_id: int, spec: JobSpec, handler: JobHandler, results: list[dict[str, Any]]
    ) -> None:
        """The public reply, noted in the job once sent (a retry after a failed delete-link
        message must not repeat it), then the delete links."""
        items = [await self._done(r) for r in results]
        if not any(r.get("public_sent") for r in results):
            await handler.send(spec, public_reply(items))
            await self._store.save_results(job_id, [{**r, "public_sent": True} for r in results])
        secret = secret_reply(items, spec.chat, spec.ephemeral)
        if secret is not None and not await handler.send(spec, secret):
            await handler.send(spec, dm_closed())

    async def _done(self, result: Mapping[str, Any]) -> Done:
        outcome = Outcome(result["outcome"])
        record = None
        if result["upload_id"] is not None:
            record = await self._store.upload(result["upload_id"])
        reason = Text.from_json(result["reason"]) if result["reason"] else None
        return Done(result["filename"], outcome, record, reason)


class _Meter:
    """Adds up the bytes sent of a job's files and shows a percentage, at most every 2 s."""

    def __init__(self, handler: JobHandler, spec: JobSpec, medias: list[IncomingMedia]) -> None:
        self._handler, self._spec = handler, spec
        self._sent: dict[int, int] = {}
        self._total = sum(m.size or 0 for m in medias)
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
