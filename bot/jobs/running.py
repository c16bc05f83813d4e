"""A job this worker runs, and the one writer of its state while it runs.

Its state is what the job must remember between attempts and across processes: each settled
file's result, the files whose earlier try reached the host unanswered, its status message's
handle and whether its public answer went out. Each change is one transaction, saved only
while the job is still this worker's; every write (and the heartbeat) says whether it is, and
that is judged here alone. A job found to be another worker's is left alone from then on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection, Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from bot.payloads import FileResult, JobResults, JobSpec
from bot.store import FileCount, JobRecord
from bot.store.jobs import JobQueue
from bot.store.uploads import NewUpload

log = logging.getLogger(__name__)


class RunningJob:
    """One attempt at a job, on this worker."""

    def __init__(self, queue: JobQueue, record: JobRecord, worker: str, lease: timedelta) -> None:
        self.id = record.id
        self.spec: JobSpec = record.spec
        self.attempts = record.attempts
        self.created_at: datetime = record.created_at
        self._queue = queue
        self._worker = worker
        self._lease = lease
        self._results = replace(record.results, files=record.results.settled())
        self._passing: dict[int, FileResult] = {}
        """This attempt's failures that pass: not saved, the next attempt tries them again."""
        self._mine = True
        self._leaving = False
        """This worker hands the job back or finishes it: it stops being its own, rightly."""
        self._confirmed_at = time.monotonic()
        """When the job was last shown this worker's: it was claimed (or stored running) now."""
        self._writing = asyncio.Lock()

    @property
    def platform(self) -> str:
        return self.spec.user.platform

    @property
    def lost(self) -> bool:
        """Another worker took the job over: this one touches it no more."""
        return not self._mine

    @property
    def status(self) -> str | None:
        """The status message's handle, until the public answer has replaced it."""
        return None if self._results.public_sent else self._results.status

    @property
    def public_sent(self) -> bool:
        return self._results.public_sent

    def reached(self, index: int) -> bool:
        """Whether an earlier try of file ``index`` reached the host before its answer was lost."""
        return index in self._results.reached

    def pending(self) -> list[int]:
        """The files no attempt has settled yet."""
        return [i for i in range(len(self.spec.items)) if i not in self._results.files]

    def files(self) -> Mapping[int, FileResult]:
        """Every file's result so far, in order: settled ones, and this attempt's failures that
        pass."""
        return dict(sorted({**self._results.files, **self._passing}.items()))

    # --- state changes: each one transaction ---------------------------------------------

    async def uploaded(self, index: int, new: NewUpload) -> FileResult:
        """Records the upload together with the results holding it. It is recorded even when
        the job was taken over meanwhile: it did happen, and it belongs in the history."""
        async with self._writing:
            since = time.monotonic()
            results, mine = await self._queue.record_upload(
                self.id, index, new, self._results, worker=self._worker, lease=self._lease
            )
            self._results = results
            self._owned(mine, since)
        return results.files[index]

    async def settled(self, index: int, result: FileResult) -> None:
        """A file that needs no further try (already on the host, or refused for good)."""
        async with self._writing:
            await self._save(self._results.with_file(index, result))

    def failed_for_now(self, index: int, result: FileResult) -> None:
        """A failure that passes: said in this attempt's answer or retry note, tried again by
        the next attempt, so not saved."""
        self._passing[index] = result

    async def reached_host(self, index: int) -> None:
        """File ``index`` was sent whole but its answer was lost: a later "Duplicated upload"
        for it is this try's file."""
        async with self._writing:
            await self._save(replace(self._results, reached=self._results.reached | {index}))

    async def status_shown(self, handle: str) -> None:
        """The platform showed the status message under ``handle``: kept, so the public answer
        replaces it from any process."""
        async with self._writing:
            if handle != self._results.status:
                await self._save(replace(self._results, status=handle))

    async def public_answer_sent(self) -> None:
        """The public answer is out: a retry (of a failed delete-link message) must not repeat
        it."""
        async with self._writing:
            await self._save(replace(self._results, public_sent=True))

    async def renew(self) -> None:
        """The heartbeat: extends the lease and shows this worker alive."""
        since = time.monotonic()
        mine = await self._queue.renew_lease(self.id, self._worker, self._lease)
        self._owned(mine, since)

    async def still_mine(self, recent: float) -> bool:
        """Checked before answering: a job taken over is answered by its new worker. A write
        that found it this worker's less than ``recent`` seconds ago is enough (a takeover
        waits several heartbeats without one); else the lease is renewed to know."""
        if self.lost:
            return False
        if time.monotonic() - self._confirmed_at < recent:
            return True
        try:
            await self.renew()
        except Exception:  # the database may be restarting: the answer's writes wait for it
            return True
        return not self.lost

    async def finish(self, counts: Collection[FileCount]) -> None:
        """Done: the job's end and its files' outcomes (what /stats counts), in one write."""
        self._leaving = True
        await self._queue.finish(self.id, counts)

    async def retry_later(self, delay: float) -> None:
        self._leaving = True
        await self._queue.retry_later(self.id, timedelta(seconds=delay))

    async def wait_for_host(self, delay: float) -> None:
        """Pending again until ``delay`` has passed, this attempt not counted: the host was
        down, and the job waits for it rather than spending its attempts."""
        self._leaving = True
        await self._queue.retry_later(self.id, timedelta(seconds=delay), counted=False)

    # --- the one lease check -------------------------------------------------------------

    async def _save(self, results: JobResults) -> None:
        """Saves ``results``, made from the current ones under ``_writing`` (which the caller
        holds), so that no two changes are built on the same state."""
        since = time.monotonic()
        mine = await self._queue.save_results(self.id, results, self._worker, self._lease)
        if mine:
            self._results = results
        self._owned(mine, since)

    def _owned(self, mine: bool, since: float) -> None:
        """What a conditional write (a save, a renewal) found. ``since`` is when it started: the
        job is known this worker's no later than that."""
        if mine:
            self._confirmed_at = max(self._confirmed_at, since)
        elif self._mine and not self._leaving:
            log.warning("job %d was taken over by another worker; leaving it", self.id)
            self._mine = False
