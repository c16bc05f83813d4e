"""A job handler for the core's tests: files by name from a dict, replies kept in a list.

It stands where a platform would, so the job runner is tested on its own; the
adapters' own tests drive the real platform libraries.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from bot.domain import Reply, Text, UserRef, Visibility
from bot.payloads import FileRef, JobSpec
from bot.texts import Language

CHUNK = 64 * 1024


def file(name: str, content_type: str = "image/png", size: int | None = None) -> FileRef:
    """A job's file whose locator is its name in a handler's ``files``."""
    return FileRef(name, content_type, size, name)


class RecordingHandler:
    def __init__(self, files: dict[str, bytes] | None = None, *, dm_open: bool = True) -> None:
        self.files = files if files is not None else {}
        self.dm_open = dm_open
        self.sent: list[tuple[JobSpec, Reply]] = []
        self.progress_shown: list[Text] = []
        self.progress_at: list[float] = []
        """When each progress call came (``time.monotonic``)."""
        self.status_given: list[str | None] = []
        """The status message each progress call was handed."""
        self.statuses: list[str | None] = []
        """The status message each ``deliver`` was handed, in order."""
        self.answered = asyncio.Condition()
        self.told: list[tuple[UserRef, Reply, Language]] = []
        """The private messages sent with ``tell``."""

    async def fetch(self, ref: FileRef) -> AsyncIterator[bytes]:
        data = self.files[ref.locator]
        for start in range(0, len(data), CHUNK):
            yield data[start : start + CHUNK]

    async def deliver(self, job: JobSpec, reply: Reply, status: str | None) -> bool:
        if reply.visibility is Visibility.PRIVATE_TO_USER and not self.dm_open:
            return False
        async with self.answered:
            self.sent.append((job, reply))
            self.statuses.append(status)
            self.answered.notify_all()
        return True

    async def tell(self, user: UserRef, reply: Reply, language: Language) -> bool:
        """A private message outside any job: kept with no job, as the platform would send it."""
        self.told.append((user, reply, language))
        return self.dm_open

    async def progress(self, job: JobSpec, text: Text, status: str | None) -> str | None:
        """Shows a status message as a platform would: the one it is handed, or a new one."""
        self.progress_shown.append(text)
        self.progress_at.append(time.monotonic())
        self.status_given.append(status)
        return status or f"status-{len(self.progress_shown)}"

    async def wait_for_replies(self, count: int, timeout: float = 10) -> list[Reply]:
        async with asyncio.timeout(timeout), self.answered:
            await self.answered.wait_for(lambda: len(self.sent) >= count)
        return [reply for _, reply in self.sent]
