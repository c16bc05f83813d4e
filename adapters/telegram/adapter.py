"""Wiring: the PTB Application, the command menu, and how updates arrive (polling or webhook).

PTB's own Updater acknowledges updates as soon as it has fetched them, before any
handler ran. Here an update is acknowledged (by the next getUpdates offset, or by
the webhook's 200) only after its handlers stored what it asked for, so a crash
never loses a photo.
"""

from __future__ import annotations

import asyncio
import logging

from telegram import BotCommand
from telegram.error import Conflict, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from adapters.telegram.handler import TelegramJobs
from adapters.telegram.media import Downloader
from adapters.telegram.updates import Updates
from bot.app import Core
from bot.crypto import read_or_create_secret
from bot.domain import Platform
from bot.errors import StartupFailed
from bot.texts import CATALOGS, Language
from bot.tls import tls_context

log = logging.getLogger(__name__)
ALLOWED_UPDATES = ["message", "channel_post", "callback_query"]
POLL_TIMEOUT_S = 30
TLS = {"verify": tls_context()}
UNSTORED_PAUSE_S = 2.0
"""How long polling waits before fetching again an update whose upload could not be stored."""
COMMANDS = (
    "start",
    "help",
    "link",
    "unlink",
    "settings",
    "expire",
    "nsfw",
    "album",
    "upload",
    "mirror",
    "history",
)
MEDIA = (
    filters.PHOTO | filters.VIDEO | filters.ANIMATION | filters.VIDEO_NOTE | filters.Document.ALL
)
POSTS = filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST


class TelegramAdapter:
    platform = Platform.TELEGRAM

    def __init__(self, core: Core) -> None:
        settings = core.settings
        assert settings.telegram_bot_token is not None
        self._core = core
        self._app: Application = (  # type: ignore[type-arg]
            ApplicationBuilder()
            .token(settings.telegram_bot_token.get_secret_value())
            .base_url(settings.telegram_api_url)
            .base_file_url(settings.telegram_file_url)
            .local_mode(settings.telegram_local_mode)
            .request(HTTPXRequest(connection_pool_size=256, httpx_kwargs=TLS))
            .get_updates_request(HTTPXRequest(httpx_kwargs=TLS))
            .rate_limiter(AIORateLimiter(max_retries=3))
            .updater(None)
            .build()
        )
        self._downloader = Downloader(self._app.bot, settings.telegram_max_upload_mb)
        jobs = TelegramJobs(self._app.bot, self._downloader)
        core.runner.register(Platform.TELEGRAM, jobs)
        self._updates = Updates(core, jobs)
        self._register(self._updates)

    def _register(self, updates: Updates) -> None:
        app = self._app
        for name, run in (
            ("start", updates.help),
            ("help", updates.help),
            ("link", updates.link),
            ("unlink", updates.unlink),
            ("settings", updates.settings),
            ("expire", updates.expire),
            ("nsfw", updates.nsfw),
            ("album", updates.album),
            ("upload", updates.upload),
            ("mirror", updates.mirror),
            ("history", updates.history),
        ):
            app.add_handler(CommandHandler(name, updates.command(run), filters=POSTS, block=False))
        app.add_handler(MessageHandler(POSTS & MEDIA, updates.media))
        app.add_handler(
            MessageHandler(
                filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE & ~filters.COMMAND & ~MEDIA,
                updates.not_media,
                block=False,
            )
        )
        app.add_handler(CallbackQueryHandler(updates.button, block=False))

    async def run(self) -> None:
        """Serves until cancelled, by webhook when TELEGRAM_WEBHOOK_URL is set, else by polling."""
        try:
            async with self._app:
                await self._set_commands()
                await self._app.start()
                try:
                    if self._core.settings.telegram_webhook_url:
                        await self._serve_webhook()
                    else:
                        await self._poll()
                finally:
                    await self._app.stop()
        except InvalidToken:
            raise StartupFailed("Telegram refused TELEGRAM_BOT_TOKEN: check the token") from None
        finally:
            await self._downloader.aclose()

    async def _set_commands(self) -> None:
        """The command menu, in English for everyone and in Chinese for Chinese clients."""
        languages: tuple[tuple[Language, str | None], ...] = (("en", None), ("zh", "zh"))
        for language, code in languages:
            menu = [BotCommand(name, CATALOGS[language][f"command.{name}"]) for name in COMMANDS]
            await self._app.bot.set_my_commands(menu, language_code=code)

    async def _poll(self) -> None:
        """Long polling; an update is acknowledged only after its handlers have run."""
        bot = self._app.bot
        await bot.delete_webhook(drop_pending_updates=False)
        offset, pause = 0, 1.0
        while True:
            try:
                updates = await bot.get_updates(
                    offset=offset, timeout=POLL_TIMEOUT_S, allowed_updates=ALLOWED_UPDATES
                )
            except RetryAfter as error:
                await asyncio.sleep(_seconds(error.retry_after))
                continue
            except (NetworkError, TimedOut, Conflict) as error:
                log.warning(
                    "polling Telegram failed (%s); retrying in %.0f s", type(error).__name__, pause
                )
                await asyncio.sleep(pause)
                pause = min(pause * 2, 30.0)
                continue
            pause = 1.0
            for update in updates:
                await self._app.process_update(update)
                if not self._updates.stored(update):
                    await asyncio.sleep(UNSTORED_PAUSE_S)
                    break
                offset = update.update_id + 1

    def _webhook_secret(self) -> str:
        settings = self._core.settings
        if settings.telegram_webhook_secret is not None:
            return settings.telegram_webhook_secret.get_secret_value()
        return read_or_create_secret(settings.data_dir / "telegram-webhook.secret")

    async def _serve_webhook(self) -> None:
        """Imported here: long polling, the common case, never loads the HTTP server."""
        from adapters.telegram.webhook import serve_webhook  # noqa: PLC0415

        settings = self._core.settings
        assert settings.telegram_webhook_url is not None
        await serve_webhook(
            self._app,
            self._updates,
            url=settings.telegram_webhook_url,
            listen=settings.telegram_webhook_listen,
            secret=self._webhook_secret(),
            allowed_updates=ALLOWED_UPDATES,
        )


def _seconds(value: object) -> float:
    total = getattr(value, "total_seconds", None)
    return float(total()) if callable(total) else float(value)  # type: ignore[arg-type]
