"""A running job as its attempt builds it: its results, its status message, whose it is.

While a job runs the user sees one status message: upload progress for big files,
and, when a file failed in a way that passes, that the bot will try again and when.
The platform shows it (``JobHandler.progress``) and gives back a handle, which is
saved in the job's results at once: the public answer then replaces that message
even when another process sends it (after a restart, or on another replica).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time

from bot.chevereto import Progress
from bot.domain import Text
from bot.payloads import FileResult, IncomingMedia, JobResults, JobSpec
from bot.platform import JobHandler
from bot.store import JobRecord
from bot.store.jobs import JobQueue
from bot.texts import t

log = logging.getLogger(__name__)

PROGRESS_MIN_BYTES = 4 * 1024 * 1024
"""Files smaller than this upload too fast for a progress message to help."""
PROGRESS_EVERY_S = 2.0
RETRY_NOTES = {"error.host_unavailable": "retry.host", "error.source_unavailable": "retry.source"}
"""The note for a file's failure that passes, by the failure's sentence: the host's, or
the chat platform's download; anything else (the database restarting) gets retry.other."""


def retry_note(reason: Text | None, delay: float, attempt: int, attempts: int) -> Text:
    """What the status message says when the job will try again: why, in how long, which try."""
    key = RETRY_NOTES.get(reason.key if reason is not None else "", "retry.other")
    return t(key, delay=math.ceil(delay), attempt=attempt, attempts=attempts)


class JobState:
    """One attempt at a job: the results so far and the status message, saved as they change,
    and whether the job is still this worker's."""

    def __init__(self, queue: JobQueue, job: JobRecord, handler: JobHandler, worker: str) -> None:
        self.job = job
        self.handler = handler
        self._queue = queue
        self._worker = worker
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

    async def file_done(self, index: int, result: FileResult) -> None:
        self.files[index] = result
        await self.save()

    async def save(self) -> None:
        """Saves the results in the job, while it is this worker's."""
        async with self._saving:
            if not await self._queue.save_results(self.job.id, self.results(), self._worker):
                self.lose()

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
        with ``wait`` False (a percentage) is skipped while another is being shown."""
        if not wait and self._showing.locked():
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
    """Adds up the bytes sent of a job's files and shows a percentage, at most every 2 s."""

    def __init__(self, state: JobState, medias: list[IncomingMedia]) -> None:
        self._state = state
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
            if self._state.noted or moment - self._shown_at < PROGRESS_EVERY_S:
                return
            self._shown_at = moment
            percent = min(99, 100 * sum(self._sent.values()) // max(self._total, 1))
            await self._state.show(t("upload.progress", percent=percent), wait=False)

        return report
