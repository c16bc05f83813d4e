"""Pieces for the fault campaign: a core with test-sized timeouts, the real Telegram adapter on
it, a host port that can be closed and opened again, and readers of what the user finally saw.

``start_core`` is ``Core.start`` (which takes no tuning) with the host client, the runner and
the intake rebuilt: the client's timeout and the runner's retry delays cut from 60 s and
5 s/30 s to fractions of a second, so a fault test waits for the bot's retries, not minutes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.telegram import TelegramAdapter
from bot.app import Core
from bot.chevereto import CheveretoClient
from bot.commands import Commands
from bot.domain import Platform
from bot.intake import MAX_ALBUM_ITEMS, MAX_WAITING_JOBS, Intake
from bot.jobs import JobRunner
from bot.settings import Settings
from bot.store.tables import Job
from bot.upload import UploadService
from tests.support.fakes.chevereto import FakeChevereto
from tests.support.fakes.telegram_api import TEST_TOKEN, FakeTelegram

JSON = dict[str, Any]
HOST_UNAVAILABLE = "The host cannot be reached right now. Try again later."
FILE_REFUSED = "The host refused that file: its type or format is not accepted there."
STOP_WITHIN_S = 30.0
RATE_LIMITED = "You sent too many files at once. Wait until they are done, then send more."


@dataclass(frozen=True, slots=True)
class Tuning:
    """What ``Core.start`` leaves at production values, sized for tests."""

    timeout: float = 1.0
    tries: int = 3
    backoff: float = 0.01
    max_attempts: int = 3
    retry_delays: tuple[float, ...] = (0.2, 0.2)
    lease: timedelta = timedelta(seconds=60)
    poll_s: float = 0.05
    max_waiting_jobs: int = MAX_WAITING_JOBS
    max_album_items: int = MAX_ALBUM_ITEMS


async def start_core(settings: Settings, tuning: Tuning | None = None) -> Core:
    """``Core.start(settings)`` (store, migrations, secret check), then the host client, the
    service, the runner and the intake built again on its store with ``tuning`` applied."""
    tuning = tuning or Tuning()
    core = await Core.start(settings)
    await core.client.aclose()
    client = CheveretoClient(
        settings.chevereto_url, timeout=tuning.timeout, tries=tuning.tries, backoff=tuning.backoff
    )
    default_key = settings.default_api_key.get_secret_value() if settings.default_api_key else None
    service = UploadService(
        client,
        core.store,
        limits_mb={
            Platform.TELEGRAM: settings.telegram_max_upload_mb,
            Platform.DISCORD: settings.max_upload_mb,
        },
        temp_dir=settings.data_dir / "tmp",
        concurrency=settings.upload_concurrency,
        default_key=default_key,
    )
    runner = JobRunner(
        core.store,
        service,
        max_attempts=tuning.max_attempts,
        retry_delays=tuning.retry_delays,
        lease=tuning.lease,
        poll_s=tuning.poll_s,
        jobs_in_flight=2 * settings.upload_concurrency,
    )
    commands = Commands(core.store, client, site=settings.chevereto_url, default_key=default_key)
    intake = Intake(
        core.store,
        service,
        runner,
        max_waiting_jobs=tuning.max_waiting_jobs,
        max_album_items=tuning.max_album_items,
    )
    return Core(settings, core.store, client, service, runner, commands, intake)


@contextlib.asynccontextmanager
async def running_telegram(
    settings: Settings, tuning: Tuning | None = None, *, jobs: bool = True
) -> AsyncIterator[Core]:
    """The real Telegram adapter and (unless ``jobs`` is False) the runner, as tasks."""
    core = await start_core(settings, tuning)
    adapter = TelegramAdapter(core)
    tasks = [asyncio.create_task(adapter.run())]
    if jobs:
        tasks.append(asyncio.create_task(core.runner.run()))
    try:
        yield core
    finally:
        for task in reversed(tasks):  # the runner first: it may be answering
            task.cancel()
        results = await _stopped(tasks)
        await core.close()
        failures = [r for r in results if not isinstance(r, asyncio.CancelledError | None)]
        assert failures == [], f"a task ended with {failures}"


async def _stopped(tasks: list[asyncio.Task[None]]) -> list[BaseException | None]:
    """The tasks' outcomes once they have stopped; a task that ignores its cancel fails the test
    with every pending task's stack, rather than hanging it."""
    try:
        async with asyncio.timeout(STOP_WITHIN_S):
            return await asyncio.gather(*tasks, return_exceptions=True)
    except TimeoutError:
        stacks = [
            f"{task.get_name()}: {task.get_stack()}"
            for task in asyncio.all_tasks()
            if not task.done()
        ]
        raise AssertionError("the bot did not stop:\n" + "\n".join(stacks)) from None


def telegram_settings(
    telegram: FakeTelegram,
    host_url: str,
    data_dir: Path,
    database: str,
    *,
    token: str = TEST_TOKEN,
    **extra: Any,
) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        chevereto_url=host_url,
        telegram_bot_token=token,
        telegram_api_url=telegram.api_url,
        telegram_file_url=telegram.file_url,
        data_dir=data_dir,
        database_url=database,
        **extra,
    )


def final_texts(telegram: FakeTelegram, chat_id: int) -> list[str]:
    """The text of each bot message in ``chat_id`` as the user sees it now (after edits)."""
    latest: dict[int, str] = {}
    for record in telegram.sent:
        if record["chat_id"] == chat_id:
            latest[record["message_id"]] = record["text"] or ""
    return [latest[message_id] for message_id in sorted(latest)]


def upload_answer(chevereto: FakeChevereto, filename: str) -> tuple[str, str]:
    """The exact public answer and delete-link message for the host's only image."""
    (image,) = chevereto.images.values()
    public = f"{filename}\n{chevereto.url}/image/{image.id}\n{chevereto.url}/{image.id}"
    secret = (
        f"Delete link for {filename} (only you see this; opening it deletes the file):\n"
        f"{chevereto.url}/image/{image.id}/delete/{image.delete_hash}"
    )
    return public, secret


def photo_name(message: JSON) -> str:
    """The file name the bot gives a Telegram photo."""
    return f"photo_{message['photo'][-1]['file_unique_id']}.jpg"


async def job_rows(database: str) -> list[tuple[str, int]]:
    """(state, attempts) of every job, read with a connection of the test's own."""
    engine = create_async_engine(database)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(select(Job.state, Job.attempts).order_by(Job.id))
            return [(state, attempts) for state, attempts in rows]
    finally:
        await engine.dispose()


class PortSwitch:
    """A TCP port on 127.0.0.1 that forwards to ``target``, or refuses connections when down.

    The port stays the same across ``down()`` and ``up()``, so a bot configured with
    ``url`` sees its host go away (connection refused) and come back.
    """

    def __init__(self, target_port: int) -> None:
        self._target = target_port
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._forward, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._links):
                writer.transport.abort()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> PortSwitch:
        await self.up()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.down()

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._target)
        self._links |= {writer, up_writer}
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            self._links -= {writer, up_writer}
            for end in (writer, up_writer):
                end.transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
