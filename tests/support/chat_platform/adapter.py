"""The test platform as the core runs it: long polling in, job answers out.

An update is acknowledged (by asking for the next ones past it) only after its
handlers ran and stored what it asked for, so a crash between the two makes the
service hand it out again rather than lose a photo.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, ClassVar

import httpx

from bot.app import Core
from bot.domain import Reply, Text
from bot.payloads import FileRef, JobSpec
from bot.platform import PlatformTexts
from tests.support.chat_platform.files import download
from tests.support.chat_platform.inbound import Inbound
from tests.support.chat_platform.outbound import Outbound
from tests.support.chat_platform.settings import ChatSettings
from tests.support.chat_platform.texts import TEXTS

log = logging.getLogger(__name__)
LIMIT_MB = 100
"""The largest file the service hands out."""
POLL_TIMEOUT_S = 20
UNSTORED_PAUSE_S = 0.5
"""How long polling waits before asking again for an update that could not be stored."""
FIRST_PAUSE_S, MAX_PAUSE_S = 0.1, 5.0
"""Polling after a failed poll: waits this long, doubling up to the most."""


class ChatAdapter:
    """The fake chat service, through one HTTP client; updates in through ``Inbound``."""

    name: ClassVar[str] = ChatSettings.name
    texts: ClassVar[PlatformTexts] = TEXTS

    def __init__(self, core: Core, settings: ChatSettings) -> None:
        assert settings.url is not None
        self._limit_mb = min(core.settings.max_upload_mb, LIMIT_MB)
        timeout = httpx.Timeout(10.0, read=POLL_TIMEOUT_S + 10.0)
        self._http = httpx.AsyncClient(base_url=settings.url, timeout=timeout)
        self._outbound = Outbound(self._http)
        self._inbound = Inbound(core, self._http, self._outbound)

    def size_limit_mb(self) -> int:
        return self._limit_mb

    async def fetch(self, ref: FileRef, into: Path) -> None:
        await download(self._http, ref, into)

    async def deliver(self, job: JobSpec, reply: Reply) -> bool:
        return await self._outbound.deliver(job, reply)

    async def progress(self, job: JobSpec, text: Text) -> None:
        await self._outbound.progress(job, text)

    async def run(self) -> None:
        """Polls until cancelled, then closes the HTTP client (the job runner stopped first)."""
        try:
            await self._poll()
        finally:
            await self._http.aclose()

    async def _poll(self) -> None:
        offset, pause = 0, FIRST_PAUSE_S
        while True:
            try:
                updates = await self._updates(offset)
            except httpx.HTTPError as error:
                log.warning("polling failed (%s); again in %.1f s", type(error).__name__, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, MAX_PAUSE_S)
                continue
            pause = FIRST_PAUSE_S
            offset = await self._process(updates, offset)

    async def _updates(self, offset: int) -> list[dict[str, Any]]:
        params = {"offset": offset, "timeout": POLL_TIMEOUT_S}
        response = await self._http.get("/updates", params=params)
        response.raise_for_status()
        updates: list[dict[str, Any]] = response.json()["updates"]
        return updates

    async def _process(self, updates: list[dict[str, Any]], offset: int) -> int:
        """Runs each update in order; the offset that acknowledges those done. At the first
        one not stored it stops, and the next poll asks for it again after a pause."""
        for update in updates:
            if not await self._inbound.handle(update):
                await asyncio.sleep(UNSTORED_PAUSE_S)
                break
            offset = int(update["id"]) + 1
        return offset
