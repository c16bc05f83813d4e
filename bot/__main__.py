"""``python -m bot`` / ``chevereto-bot``: starts every platform that is set up, in one loop."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from typing import TypeVar

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from bot.app import Core
from bot.chevereto.check import report_site
from bot.errors import StartupFailed
from bot.platform import PlatformSettings
from bot.platform.registry import installed
from bot.settings import Settings, describe_error

log = logging.getLogger("bot")
E = TypeVar("E", bound=BaseException)


async def _open_core(settings: Settings) -> Core:
    try:
        return await Core.start(settings)
    except (OSError, SQLAlchemyError) as error:
        raise StartupFailed(
            f"cannot open the database (DATABASE_URL or DATA_DIR): {type(error).__name__}"
        ) from None


async def serve(settings: Settings, platforms: Sequence[PlatformSettings]) -> None:
    """Runs the job runner, the host watch and the platforms until SIGINT or SIGTERM, then
    stops them all."""
    core = await _open_core(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        adapters = [core.connect(platform) for platform in platforms]
        async with asyncio.TaskGroup() as group:
            # Beside the start, not before it: a hanging site must not hold the platforms up.
            check = group.create_task(
                report_site(settings.chevereto_url, max_answer_kb=settings.max_host_answer_kb),
                name="site check",
            )
            running = [group.create_task(a.run(), name=a.name) for a in adapters]
            if settings.health_listen:  # stops with the platforms
                # Imported here: aiohttp's web server adds up to a quarter second to start-up,
                # paid only by a bot that serves /healthz.
                from bot.ops.health import HealthServer  # noqa: PLC0415

                health = HealthServer(core, settings.health_listen)
                running.append(group.create_task(health.run(), name="health"))
            jobs = group.create_task(core.work(), name="jobs")
            log.info("started: %s", ", ".join(a.name for a in adapters))
            await stop.wait()
            log.info("stopping")
            # Jobs first, so answers being sent finish while the platforms are still connected.
            jobs.cancel()
            await asyncio.wait({jobs})
            for task in (check, *running):
                task.cancel()
    finally:
        await core.close()
    log.info("stopped")


def _fail(line: str) -> None:
    print(line, file=sys.stderr)
    sys.exit(2)


def _platform_settings(known: Sequence[type[PlatformSettings]]) -> list[PlatformSettings]:
    """The settings of every platform whose variables enable it; a bad value stops the start."""
    enabled = []
    for kind in known:
        try:
            settings = kind()
        except ValidationError as error:
            _fail(describe_error(error, kind.model_config.get("env_prefix", "")))
        if settings.enabled():
            enabled.append(settings)
    return enabled


def main(known: Sequence[type[PlatformSettings]] | None = None) -> None:
    """Reads the settings, starts every enabled platform; ``known`` defaults to the installed."""
    known = installed() if known is None else known
    try:
        settings = Settings()
    except ValidationError as error:
        _fail(describe_error(error))
    platforms = _platform_settings(known)
    if not platforms:
        variables = " and/or ".join(kind.enabling_variable for kind in known)
        _fail(f"no platform token set: set {variables}")
    from bot.ops.logs import setup_logging  # noqa: PLC0415

    secrets = settings.secrets() + [s for p in platforms for s in p.secrets()]
    quiet = [logger for p in platforms for logger in p.sdk_loggers]
    setup_logging(settings.log_level, settings.log_format, secrets, quiet)
    code = _run(settings, platforms)
    if code:
        sys.exit(code)


def _run(settings: Settings, platforms: Sequence[PlatformSettings]) -> int:
    """Serves until stopped; the exit code: 0, a StartupFailed's own (2 for a rejected token),
    or 1 for anything unexpected. One line each, never a traceback (but at DEBUG).

    ``sys.exit`` is called by the caller, after the ``except*`` blocks: raised inside one, it
    prints a BaseExceptionGroup traceback on Python 3.11.2 (Debian 12).
    """
    code = 0
    try:
        asyncio.run(serve(settings, platforms))
    except* StartupFailed as group:
        for failure in _leaves(group):
            log.critical("cannot start: %s", failure)
            code = max(code, failure.exit_code)
    except* Exception as unexpected:
        for cause in _leaves(unexpected):
            log.critical(
                "stopped by an unexpected %s; LOG_LEVEL=DEBUG shows where", type(cause).__name__
            )
            log.debug("where it happened", exc_info=cause)
        code = max(code, 1)
    return code


def _leaves(group: BaseExceptionGroup[E]) -> list[E]:
    """The errors of a group, nested groups (a TaskGroup inside a TaskGroup) flattened."""
    leaves: list[E] = []
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            leaves += _leaves(error)
        else:
            leaves.append(error)
    return leaves


if __name__ == "__main__":
    main()
