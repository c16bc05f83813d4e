"""A running job as its attempt builds it: its results, its status message, whose it is.

While a job runs the user sees at most one status message: upload progress once the
job has run a while, and, when a file failed in a way that passes, that the bot will
try again and when. The platform shows it (``JobHandler.progress``) and gives back a
handle, which is saved in the job's results at once: the public answer then replaces
that message even when another process sends it (after a restart, or on another replica).

Each state change is one write: a file's upload is recorded with the job's results in
one transaction, and a write that succeeds shows the job still this worker's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from datetime import timedelta

from bot.chevereto import Progress
from bot.domain import Text, UploadRecord
from bot.payloads import FileResult, IncomingMedia, JobResults, JobSpec
from bot.platform import JobHandler
from bot.store import JobRecord
from bot.store.jobs import JobQueue
from bot.store.uploads import NewUpload
from bot.texts import t
from bot.upload.service import Recorder

log = logging.getLogger(__name__)

STATUS_AFTER_S = 2.0
"""A job done sooner shows no status message: its answer comes before one would help."""
PROGRESS_EVERY_S = 2.0
RETRY_NOTES = {
    "error.host_unavailable": "retry.host",
    "error.host_page": "retry.host_page",
    "error.host_flooding": "retry.host_flooding",
    "error.host_slow": "retry.host_slow",
    "error.source_unavailable": "retry.source",
    "error.source_slow": "retry.source_slow",
    "error.link_unreachable": "retry.link",
    "error.link_slow": "retry.link_slow",
}
"""The note for a file's failure that passes, by the failure's sentence: the host's (not
answering, a web page instead of its API, its flood limit), the chat platform's download, or
a link's server; anything else (the database restarting) gets retry.other."""


def retry_note(reason: Text | None, delay: float, attempt: int, attempts: int) -> Text:
    """What the status message says when the job will try again: why, in how long, which try."""
    key = RETRY_NOTES.get(reason.key if reason is not None else "", "retry.other")
    return t(key, delay=math.ceil(delay), attempt=attempt, attempts=attempts)


class JobState:
    """One attempt at a job: the results so far and the status message, saved as they change,
    and whether the job is still this worker's."""

    def __init__(
        self,
        queue: JobQueue,
        job: JobRecord,
        handler: JobHandler,
        worker: str,
        lease: timedelta,
    ) -> None:
        self.job = job
        self.handler = handler
        self._queue = queue
        self._worker = worker
        self._lease = lease
        self._confirmed_at = time.monotonic()
        """When the job was last shown this worker's: it was claimed (or stored running)
        just now."""
        self.files: dict[int, FileResult] = job.results.settled()
        self.status = job.results.status
        self.public_sent = job.results.public_sent
        self.noted = False
        """A retry note is shown in this attempt: progress percentages leave it be."""
        self.lost = False
        """Another worker took the job over: this one leaves it alone from now on."""
        self.releasing = False
        """This worker hands the job back or finishes it: it is no longer its own, rightly."""
        self._saving = asyncio.Lock()
        self._showing = asyncio.Lock()

    def spec(self) -> JobSpec:
        """The job as the platform answers it: with its status message, until the public
        answer has replaced it."""
        return self.job.spec.with_status(None if self.public_sent else self.status)

    def results(self) -> JobResults:
        return JobResults(dict(sorted(self.files.items())), self.public_sent, self.status)

    def recorder(self, index: int) -> Recorder:
        """Records file ``index``'s upload together with the job's results holding it: one
        transaction, so the upload is never in the history without being in the job."""

        async def record(new: NewUpload, size: int) -> FileResult:
            def holding(upload: UploadRecord) -> JobResults:
                self.files[index] = new.result(upload, size)
                return self.results()

            async with self._saving:
                since = time.monotonic()
                try:
                    _, mine = await self._queue.save_upload(
                        self.job.id, new, holding, self._worker, self._lease
                    )
                except BaseException:
                    self.files.pop(index, None)  # not written: no later save may hold it
                    raise
                self._owned(mine, since)
            return self.files[index]

        return record

    async def file_done(self, index: int, result: FileResult) -> None:
        """Saves a file's result, unless it was saved with its upload's record already. A
        failure that passes is not saved: the next attempt tries the file again anyway."""
        if self.files.get(index) is result:
            return
        self.files[index] = result
        if not result.transient:
            await self.save()

    async def save(self) -> None:
        """Saves the results in the job, while it is this worker's."""
        async with self._saving:
            since = time.monotonic()
            saved = await self._queue.save_results(
                self.job.id, self.results(), self._worker, self._lease
            )
            self._owned(saved, since)

    def _owned(self, mine: bool, since: float) -> None:
        if mine:
            self.confirm(since)
        else:
            self.lose()

    def confirm(self, since: float) -> None:
        """A conditional write (a save, a lease renewal) found the job this worker's. ``since``
        is when that write started (``time.monotonic``): the job's renewal is dated from
        before it, so a write that took long confirms no later than it began."""
        self._confirmed_at = max(self._confirmed_at, since)

    def confirmed_within(self, seconds: float) -> bool:
        """Whether the job was shown this worker's less than ``seconds`` ago: no other worker
        can have taken it over since (that takes several heartbeats without a write)."""
        return time.monotonic() - self._confirmed_at < seconds

    def lose(self) -> None:
        """The job was found to be another worker's: this one stops touching it."""
        if not (self.lost or self.releasing):
            log.warning("job %d was taken over by another worker; leaving it", self.job.id)
            self.lost = True

    async def note_retry(self, reason: Text | None, delay: float, attempts: int) -> None:
        """Tells the user, once per attempt, that the job will be tried again, and when; not
        once the public answer is out (only a delete-link message is left to send)."""
        if self.noted or self.public_sent:
            return
        self.noted = True
        await self.show(retry_note(reason, delay, self.job.attempts + 1, attempts))

    async def show(self, text: Text, *, wait: bool = True) -> None:
        """Shows ``text`` in the status message and saves its handle when it is new. A call
        with ``wait`` False (a percentage) is skipped while another is being shown. A job
        taken over shows nothing more here: its status message is the other worker's now."""
        if self.lost or (not wait and self._showing.locked()):
            return
        async with self._showing:
            try:
                status = await self.handler.progress(self.spec(), text)
            except Exception:  # a status message is a courtesy: the answer still comes
                log.warning("could not show job %d's status", self.job.id, exc_info=True)
                return
            if status is not None and status != self.status:
                self.status = status
                with contextlib.suppress(Exception):  # then a restart shows a new one
                    await self.save()


class Meter:
    """Adds up the bytes sent of a job's files. Once the job has run ``STATUS_AFTER_S``, shows
    the percentage in the status message, then again every ``PROGRESS_EVERY_S`` while it
    changes; a job done sooner shows none. A retry note, once shown, stays."""

    def __init__(self, state: JobState, medias: list[IncomingMedia]) -> None:
        self._state = state
        self._sent: dict[int, int] = {}
        self._totals = {index: media.file.size or 0 for index, media in enumerate(medias)}
        self._done = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def for_item(self, index: int) -> Progress:
        async def report(sent: int, total: int) -> None:
            self._sent[index] = sent
            self._totals[index] = total

        return report

    def start(self) -> None:
        self._task = asyncio.create_task(self._show_while_running())

    async def stop(self) -> None:
        """Shows nothing more; a status being shown now is let finish, so its handle is kept."""
        self._done.set()
        if self._task is not None:
            await self._task

    def percent(self) -> int:
        total = sum(self._totals.values())
        return min(99, 100 * sum(self._sent.values()) // total) if total else 0

    async def _show_while_running(self) -> None:
        shown, wait = None, STATUS_AFTER_S
        while not await self._stopped_within(wait):
            wait = PROGRESS_EVERY_S
            percent = self.percent()
            if self._state.noted or percent == shown:
                continue
            shown = percent
            await self._state.show(t("upload.progress", percent=percent), wait=False)

    async def _stopped_within(self, seconds: float) -> bool:
        # Not wait_for: on Python 3.11 it swallows a cancel that comes as the event is set.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._done.wait()
        return self._done.is_set()
