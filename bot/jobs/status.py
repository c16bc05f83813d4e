"""A running job's one status message: progress once it has run a while, what it waits for,
and, when a file failed in a way that passes, that the bot will try again and when.

The platform shows the message (``JobHandler.progress``) and gives back its handle, which the
job keeps (``RunningJob.status_shown``): the public answer then replaces that message even
when another process sends it. Progress is read from the files' ``Transfer`` values.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Mapping

from bot.domain import Text
from bot.jobs.running import RunningJob
from bot.platform import JobHandler
from bot.texts import t
from bot.upload.progress import Transfer, Waiting

log = logging.getLogger(__name__)

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
answering, a web page instead of its API, its flood limit, too slow), the chat platform's
download, or a link's server (unreachable, too slow); anything else (the database
restarting) gets retry.other."""
WAITING_NOTES = {Waiting.LINK_LANE: "upload.link_in_line", Waiting.HOST_DOWN: "upload.host_down"}


def retry_note(reason: Text | None, delay: float, attempt: int, attempts: int) -> Text:
    """What the status message says when the job will try again: why, in how long, which try."""
    key = RETRY_NOTES.get(reason.key if reason is not None else "", "retry.other")
    return t(key, delay=math.ceil(delay), attempt=attempt, attempts=attempts)


class StatusMessage:
    """Shows a job's status through its platform, one text at a time."""

    def __init__(self, job: RunningJob, handler: JobHandler) -> None:
        self._job = job
        self._handler = handler
        self.noted = False
        """A retry note is shown in this attempt: progress percentages leave it be."""
        self._showing = asyncio.Lock()

    async def note_retry(self, reason: Text | None, delay: float, attempts: int) -> None:
        """Tells the user, once per attempt, that the job will be tried again, and when; not
        once the public answer is out (only a delete-link message is left to send)."""
        if self.noted or self._job.public_sent:
            return
        self.noted = True
        await self.show(retry_note(reason, delay, self._job.attempts + 1, attempts))

    async def show(self, text: Text, *, wait: bool = True) -> None:
        """Shows ``text``; the job keeps a new handle. A call with ``wait`` False (progress) is
        skipped while another is being shown. A job taken over shows nothing more here."""
        job = self._job
        if job.lost or (not wait and self._showing.locked()):
            return
        async with self._showing:
            try:
                handle = await self._handler.progress(job.spec, text, job.status)
            except Exception:  # a status message is a courtesy: the answer still comes
                log.warning("could not show job %d's status", job.id, exc_info=True)
                return
            if handle is not None:
                with contextlib.suppress(Exception):  # then a restart shows a new one
                    await job.status_shown(handle)


class Meter:
    """While an attempt runs: once it has run ``after_s``, shows what its files wait for or the
    percentage sent, then again every ``every_s`` while that changes. A job done sooner shows
    nothing; a retry note, once shown, stays."""

    def __init__(
        self,
        status: StatusMessage,
        transfers: Mapping[int, Transfer],
        *,
        after_s: float,
        every_s: float,
    ) -> None:
        self._status = status
        self._transfers = transfers
        self._after_s = after_s
        self._every_s = every_s
        self._done = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._show_while_running())

    async def stop(self) -> None:
        """Shows nothing more; a status being shown now is let finish, so its handle is kept."""
        self._done.set()
        if self._task is not None:
            await self._task

    def text(self) -> Text:
        """What the files wait for, when one waits; else the percentage of their bytes sent."""
        transfers = self._transfers.values()
        waiting = next((x.waiting for x in transfers if x.waiting is not None), None)
        if waiting is not None:
            return t(WAITING_NOTES[waiting])
        total = sum(x.total for x in transfers)
        percent = min(99, 100 * sum(x.sent for x in transfers) // total) if total else 0
        return t("upload.progress", percent=percent)

    async def _show_while_running(self) -> None:
        shown, wait = None, self._after_s
        while not await self._stopped_within(wait):
            wait = self._every_s
            text = self.text()
            if self._status.noted or text == shown:
                continue
            shown = text
            await self._status.show(text, wait=False)

    async def _stopped_within(self, seconds: float) -> bool:
        # Not wait_for: on Python 3.11 it swallows a cancel that comes as the event is set.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._done.wait()
        return self._done.is_set()
