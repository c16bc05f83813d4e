"""A job handler for the core's tests: files by name from a dict, replies kept in a list.

It stands where an adapter would, so the job runner is tested on its own; the
adapters' own tests drive the real platform libraries.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.domain import IncomingMedia, Reply, Text, Visibility, media_kind
from bot.jobs import JobSpec


class RecordingHandler:
    def __init__(self, files: dict[str, bytes] | None = None, *, dm_open: bool = True) -> None:
        self.files = files if files is not None else {}
        self.dm_open = dm_open
        self.sent: list[tuple[JobSpec, Reply]] = []
        self.progress_shown: list[Text] = []
        self.answered = asyncio.Condition()

    def media(self, spec: JobSpec) -> list[IncomingMedia]:
        return [self._one(spec, item) for item in spec.items]

    def _one(self, spec: JobSpec, item: dict[str, object]) -> IncomingMedia:
        name = str(item["name"])
        content_type = str(item.get("type", "image/png"))

        async def fetch(path: Path) -> None:
            await asyncio.to_thread(path.write_bytes, self.files[name])

        size = len(self.files[name]) if name in self.files else None
        return IncomingMedia(
            spec.user,
            spec.chat,
            media_kind(content_type),
            name,
            content_type,
            size,
            fetch,
            spec.caption,
            spec.options,
        )

    async def send(self, spec: JobSpec, reply: Reply) -> bool:
        if reply.visibility is Visibility.PRIVATE_TO_USER and not self.dm_open:
            return False
        async with self.answered:
            self.sent.append((spec, reply))
            self.answered.notify_all()
        return True

    async def progress(self, spec: JobSpec, text: Text) -> None:
        self.progress_shown.append(text)

    async def wait_for_replies(self, count: int, timeout: float = 10) -> list[Reply]:
        async with asyncio.timeout(timeout), self.answered:
            await self.answered.wait_for(lambda: len(self.sent) >= count)
        return [reply for _, reply in self.sent]
