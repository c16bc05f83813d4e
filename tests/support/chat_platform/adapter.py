"""The test platform as the core runs it: long polling in, job answers out.

An update is acknowledged (by asking for the next ones past it) only after its
handlers ran and stored what it asked for, so a crash between the two makes the
service hand it out again rather than lose a photo.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from functools import partial
from typing import Any, ClassVar

import httpx

from bot.domain import Reply, Text, UserRef
from bot.payloads import FileRef, JobSpec
from bot.platform import PlatformTexts
from bot.platform.reconnect import Reconnect
from bot.platform.surface import PlatformCore
from bot.platform.updates import UpdateRef
from bot.texts import Language
from tests.support.chat_platform.files import download
from tests.support.chat_platform.inbound import Inbound
from tests.support.chat_platform.outbound import Outbound
from tests.support.chat_platform.settings import ChatSettings
from tests.support.chat_platform.texts import TEXTS

LIMIT_MB = 100
"""The largest file the service hands out."""
POLL_TIMEOUT_S = 20
UNSTORED_PAUSE_S = 0.5
"""How long polling waits before asking again for an update that could not be stored."""


class ChatAdapter:
    """The fake chat service, through one HTTP client; updates in through ``Inbound``."""

    name: ClassVar[str] = ChatSettings.name
    texts: ClassVar[PlatformTexts] = TEXTS

    def __init__(self, core: PlatformCore, settings: ChatSettings) -> None:
        assert settings.url is not None
        self._limit_mb = min(core.environment.max_upload_mb, LIMIT_MB)
        timeout = httpx.Timeout(10.0, read=POLL_TIMEOUT_S + 10.0)
        self._http = httpx.AsyncClient(base_url=settings.url, timeout=timeout)
        self._outbound = Outbound(self._http)
        self._inbound = Inbound(core, self._http, self._outbound)
        self._reconnect = Reconnect(self.name, core.environment.tuning.reconnect, _network_error)
        self._rule = core.updates(self.name, sends_again=True)
        self._connected = False

    def size_limit_mb(self) -> int:
        return self._limit_mb

    def connected(self) -> bool:
        """Its last poll succeeded."""
        return self._connected

    def fetch(self, ref: FileRef) -> AsyncIterator[bytes]:
        return download(self._http, ref)

    async def deliver(self, job: JobSpec, reply: Reply, status: str | None) -> bool:
        return await self._outbound.deliver(job, reply, status)

    async def progress(self, job: JobSpec, text: Text, status: str | None) -> str | None:
        return await self._outbound.progress(job, text, status)

    async def tell(self, user: UserRef, reply: Reply, language: Language) -> bool:
        return await self._outbound.tell(user.id, reply, language)

    async def run(self) -> None:
        """Polls until cancelled, then closes the HTTP client (the job runner stopped first)."""
        try:
            await self._poll()
        finally:
            self._connected = False
            await self._http.aclose()

    async def _poll(self) -> None:
        offset = 0
        while True:
            try:
                # Until a poll has worked, one that does not wait: connected() turns true at once.
                updates = await self._updates(offset, POLL_TIMEOUT_S if self._connected else 0)
            except httpx.HTTPError as error:
                self._connected = False
                await self._reconnect.failed(error, "polling")
                continue
            self._connected = True
            self._reconnect.succeeded()
            offset = await self._process(updates, offset)

    async def _updates(self, offset: int, wait_s: int) -> list[dict[str, Any]]:
        params = {"offset": offset, "timeout": wait_s}
        response = await self._http.get("/updates", params=params)
        response.raise_for_status()
        updates: list[dict[str, Any]] = response.json()["updates"]
        return updates

    async def _process(self, updates: list[dict[str, Any]], offset: int) -> int:
        """Runs each update in order, under the core's rule; the offset that acknowledges those
        done. At the first one not stored it stops, and the next poll asks for it again after
        a pause."""
        for update in updates:
            ref = UpdateRef("press" if "press" in update else "message", str(update["id"]))
            outcome = await self._rule.handle(ref, partial(self._inbound.handle, update))
            if not outcome.acknowledged:
                await asyncio.sleep(UNSTORED_PAUSE_S)
                break
            offset = int(update["id"]) + 1
        return offset


def _network_error(error: BaseException) -> bool:
    """The service could not be reached or failed to answer: any HTTP error passes."""
    return isinstance(error, httpx.HTTPError)
