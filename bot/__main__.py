"""``python -m bot`` / ``chevereto-bot``: starts every adapter whose token is set, in one loop."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from bot.app import Adapter, Core
from bot.errors import StartupFailed
from bot.settings import Settings, describe_error

log = logging.getLogger("bot")
NO_TOKEN = "no platform token set: set TELEGRAM_BOT_TOKEN and/or DISCORD_BOT_TOKEN"  # noqa: S105  # names the variables, holds no secret


def _secrets(settings: Settings) -> list[str]:
    values = (
        settings.telegram_bot_token,
        settings.discord_bot_token,
        settings.default_api_key,
        settings.secret_key,
        settings.telegram_webhook_secret,
        settings.database_url,
    )
    return [v.get_secret_value() for v in values if v is not None]


def _adapters(core: Core) -> list[Adapter]:
    """Imported only when configured, so one platform's SDK never slows the other's start."""
    adapters: list[Adapter] = []
    if core.settings.telegram_bot_token is not None:
        from adapters.telegram import TelegramAdapter  # noqa: PLC0415

        adapters.append(TelegramAdapter(core))
    if core.settings.discord_bot_token is not None:
        from adapters.discord_ import DiscordAdapter  # noqa: PLC0415

        adapters.append(DiscordAdapter(core))
    return adapters


async def _open_core(settings: Settings) -> Core:
    try:
        return await Core.start(settings)
    except (OSError, SQLAlchemyError) as error:
        raise StartupFailed(
            f"cannot open the database (DATABASE_URL or DATA_DIR): {type(error).__name__}"
        ) from None


async def serve(settings: Settings) -> None:
    """Runs the job runner and the adapters until SIGINT or SIGTERM, then stops them all."""
    core = await _open_core(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        adapters = _adapters(core)
        async with asyncio.TaskGroup() as group:
            platforms = [group.create_task(a.run(), name=a.platform.value) for a in adapters]
            jobs = group.create_task(core.runner.run(), name="jobs")
            log.info("started: %s", ", ".join(a.platform.value for a in adapters))
            await stop.wait()
            log.info("stopping")
            # Jobs first, so answers being sent finish while the platforms are still connected.
            jobs.cancel()
            await asyncio.wait({jobs})
            for task in platforms:
                task.cancel()
    finally:
        await core.close()
    log.info("stopped")


def main() -> None:
    try:
        settings = Settings()
    except ValidationError as error:
        print(describe_error(error), file=sys.stderr)
        sys.exit(2)
    if settings.telegram_bot_token is None and settings.discord_bot_token is None:
        print(NO_TOKEN, file=sys.stderr)
        sys.exit(2)
    from bot.logs import setup_logging  # noqa: PLC0415

    setup_logging(settings.log_level, settings.log_format, _secrets(settings))
    try:
        asyncio.run(serve(settings))
    except* StartupFailed as group:
        for failure in group.exceptions:
            log.critical("cannot start: %s", failure)
        sys.exit(1)
    except* Exception as unexpected:
        for cause in unexpected.exceptions:
            log.critical(
                "stopped by an unexpected %s; LOG_LEVEL=DEBUG shows where", type(cause).__name__
            )
            log.debug("where it happened", exc_info=cause)
        sys.exit(1)


if __name__ == "__main__":
    main()
