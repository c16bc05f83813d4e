"""The Telegram platform: the PTB Application, and how updates arrive (polling or webhook).

PTB's own Updater acknowledges updates as soon as it has fetched them, before any
handler ran. Here an update is acknowledged (by the next getUpdates offset, or by
the webhook's 200) only after its handlers stored what it asked for, so a crash
never loses a photo; each update is parsed alone, and what fails is judged by the
core's rule (``updates.py``, ``bot.platform.updates``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import ClassVar

from telegram import Update
from telegram.error import BadRequest, Conflict, InvalidToken, NetworkError, RetryAfter
from telegram.ext import AIORateLimiter, ApplicationBuilder
from telegram.request import HTTPXRequest

from adapters.telegram import commands
from adapters.telegram.files import Downloader, LocalFiles
from adapters.telegram.inbound import Inbound
from adapters.telegram.inline import Inline
from adapters.telegram.outbound import Outbound
from adapters.telegram.settings import TelegramSettings
from adapters.telegram.texts import TEXTS
from adapters.telegram.updates import Handling, PollingBot, update_id_of
from bot.crypto import read_or_create_secret
from bot.domain import Reply, Text, UserRef
from bot.errors import TokenRejected
from bot.ops.tls import tls_context
from bot.payloads import FileRef, JobSpec
from bot.platform import PlatformTexts
from bot.platform.reconnect import Reconnect
from bot.platform.surface import PlatformCore
from bot.texts import Language

log = logging.getLogger(__name__)
ALLOWED_UPDATES = ["message", "channel_post", "callback_query", "inline_query"]
POLL_TIMEOUT_S = 30
TLS = {"verify": tls_context()}
UNSTORED_PAUSE_S = 2.0
"""How long polling waits before fetching again an update whose upload could not be stored."""


def network_error(error: BaseException) -> bool:
    """Telegram cannot be reached just now (DNS, refused, timeout, a 5xx, flood control): worth
    trying again. PTB's BadRequest is a NetworkError too, but it is Telegram saying no."""
    return isinstance(error, NetworkError | RetryAfter) and not isinstance(error, BadRequest)


def _bot(settings: TelegramSettings) -> PollingBot:
    assert settings.bot_token is not None
    return PollingBot(
        settings.bot_token.get_secret_value(),
        base_url=settings.api_url,
        base_file_url=settings.file_url,
        local_mode=settings.local_mode,
        request=HTTPXRequest(connection_pool_size=256, httpx_kwargs=TLS),
        get_updates_request=HTTPXRequest(httpx_kwargs=TLS),
        rate_limiter=AIORateLimiter(max_retries=3),
    )


class TelegramAdapter:
    """Telegram, as the core runs it: updates in through ``Inbound``, job answers out."""

    name: ClassVar[str] = TelegramSettings.name
    texts: ClassVar[PlatformTexts] = TEXTS

    def __init__(self, core: PlatformCore, settings: TelegramSettings) -> None:
        self._settings = settings
        self._data_dir = core.environment.data_dir
        self._admins = core.environment.admins_of(self.name)
        self._limit_mb = settings.limit_mb(core.environment.max_upload_mb)
        self._bot = _bot(settings)
        self._app = ApplicationBuilder().bot(self._bot).updater(None).build()
        """PTB without its Updater: ``run`` fetches and acknowledges updates itself."""
        self._reconnect = Reconnect(self.name, core.environment.tuning.reconnect, network_error)
        self._connected = False
        self._handled: set[int] = set()
        """Updates of the last batch that are done: handled, stored, or skipped by the rule."""
        local = LocalFiles(settings.local_root, self._data_dir) if settings.local_mode else None
        self._downloader = Downloader(self._app.bot, self._limit_mb, local)
        self._outbound = Outbound(self._app.bot)
        self._inbound = Inbound(core, self._outbound)
        updates = core.updates(self.name, sends_again=True)
        self._handling = Handling(self._app, updates)
        commands.register(self._app, self._inbound, Inline(core))

    def size_limit_mb(self) -> int:
        return self._limit_mb

    def connected(self) -> bool:
        """The long poll or the webhook is up, and its last getUpdates or setWebhook worked."""
        return self._connected

    def fetch(self, ref: FileRef) -> AsyncIterator[bytes]:
        return self._downloader.fetch(ref)

    async def deliver(self, job: JobSpec, reply: Reply, status: str | None) -> bool:
        return await self._outbound.deliver(job, reply, status)

    async def progress(self, job: JobSpec, text: Text, status: str | None) -> str | None:
        return await self._outbound.progress(job, text, status)

    async def tell(self, user: UserRef, reply: Reply, language: Language) -> bool:
        return await self._outbound.tell(int(user.id), reply, language)

    async def run(self) -> None:
        """Serves until cancelled, by webhook when TELEGRAM_WEBHOOK_URL is set, else by polling.
        Telegram out of reach (at start too) is tried again with the core's backoff; a token it
        refuses (401, or 404 for a malformed one) stops the bot."""
        try:
            await self._reconnect.until_done(self._serve)
        except InvalidToken:
            raise TokenRejected("Telegram", TelegramSettings.enabling_variable) from None
        finally:
            self._connected = False
            await self._downloader.aclose()

    async def _serve(self) -> None:
        """One connection: initialize (getMe), the command menus, then updates until cancelled."""
        async with self._app:
            await commands.set_menus(
                self._app.bot, commands.commands_of(self._inbound), self._admins
            )
            await self._app.start()
            try:
                await (self._serve_webhook() if self._settings.webhook_url else self._poll())
            finally:
                self._connected = False
                await self._app.stop()

    async def _poll(self) -> None:
        """Long polling; an update is acknowledged only after its handlers have run. Until a
        poll has worked (at start, after a failure) it polls without waiting, so that
        ``connected()`` turns true at once rather than when a long poll ends."""
        bot = self._bot
        await bot.delete_webhook(drop_pending_updates=False)
        offset = 0
        while True:
            wait_s = POLL_TIMEOUT_S if self._connected else 0
            try:
                updates = await bot.raw_updates(offset, wait_s, ALLOWED_UPDATES)
            except RetryAfter as error:
                await asyncio.sleep(_seconds(error.retry_after))
                continue
            except (NetworkError, Conflict) as error:  # a 409: another poller, for a while
                self._connected = False
                await self._reconnect.failed(error, "polling")
                continue
            self._is_connected()
            offset = await self._process(updates, offset)

    def _is_connected(self) -> None:
        """A getUpdates or the setWebhook worked: connected, and the next failure waits least."""
        self._connected = True
        self._reconnect.succeeded()

    async def _process(self, items: list[object], offset: int) -> int:
        """Runs the updates' handlers, each chat's in order and the chats side by side, so a
        burst from many users is stored at once rather than one by one; returns the offset
        that acknowledges those done. An update that cannot be parsed is done at once. A chat
        stops at its first update not stored, and the offset stops before it: polling fetches
        it again after a pause, with what followed (updates handled meanwhile, of other chats
        or unparsable, are not handled twice)."""
        chats: dict[int, list[Update]] = {}
        for item in items:
            update_id = update_id_of(item)
            if update_id is not None and update_id in self._handled:
                continue
            update = self._handling.parse(item)
            if update is None:
                if update_id is not None:
                    self._handled.add(update_id)
                continue
            chat = update.effective_chat
            chats.setdefault(update.update_id if chat is None else chat.id, []).append(update)
        await asyncio.gather(*(self._process_chat(chat) for chat in chats.values()))
        for update_id in map(update_id_of, items):
            if update_id is None:  # never acknowledged alone, but by any later one
                continue
            if update_id not in self._handled:
                await asyncio.sleep(UNSTORED_PAUSE_S)
                break
            offset = update_id + 1
        self._handled = {done for done in self._handled if done >= offset}
        return offset

    async def _process_chat(self, updates: list[Update]) -> None:
        for update in updates:
            if not (await self._handling.handle(update)).acknowledged:
                return
            self._handled.add(update.update_id)

    def _webhook_secret(self) -> str:
        if self._settings.webhook_secret is not None:
            return self._settings.webhook_secret.get_secret_value()
        return read_or_create_secret(self._data_dir / "telegram-webhook.secret")

    async def _serve_webhook(self) -> None:
        """Imported here: long polling, the common case, never loads the HTTP server."""
        from adapters.telegram.webhook import serve_webhook  # noqa: PLC0415

        assert self._settings.webhook_url is not None
        await serve_webhook(
            self._app,
            self._handling,
            url=self._settings.webhook_url,
            listen=self._settings.webhook_listen,
            secret=self._webhook_secret(),
            allowed_updates=ALLOWED_UPDATES,
            registered=self._is_connected,
        )


def _seconds(value: object) -> float:
    total = getattr(value, "total_seconds", None)
    return float(total()) if callable(total) else float(value)  # type: ignore[arg-type]
