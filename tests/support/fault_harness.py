"""Pieces for the fault campaign: the real Telegram adapter on a core with test-sized timeouts
(``tests.support.running.FAST``), a host port that can be closed and opened again, and readers
of what the user finally saw.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.telegram.settings import TelegramSettings
from bot.app import Core
from bot.settings import Settings
from bot.store.tables import Job
from bot.tuning import Tuning
from tests.support.fakes.chevereto import FakeChevereto
from tests.support.fakes.telegram_api import TEST_TOKEN, FakeTelegram
from tests.support.running import FAST, running
from tests.support.settings import core_settings
from tests.support.telegram_harness import telegram_for

JSON = dict[str, Any]
HOST_UNAVAILABLE = "The host cannot be reached right now. Try again later."
HOST_PAGE = (
    "The host answered with a web page instead of its API: the site may be under maintenance, "
    "or the bot's address for it is wrong. Try again later."
)
FILE_REFUSED = "The host refused that file: its type or format is not accepted there."
RATE_LIMITED = "You sent too many files at once. Wait until they are done, then send more."


@dataclass(frozen=True, slots=True)
class TelegramBot:
    """What a fault test starts: the core's settings, and Telegram's."""

    core: Settings
    telegram: TelegramSettings


def telegram_settings(
    telegram: FakeTelegram,
    host_url: str,
    data_dir: Path,
    database: str,
    *,
    token: str = TEST_TOKEN,
    **extra: Any,
) -> TelegramBot:
    """The core on ``host_url`` (``extra``: more core settings), Telegram on the fake Bot API."""
    return TelegramBot(
        core_settings(host_url, data_dir, database, **extra), telegram_for(telegram, token=token)
    )


@contextlib.asynccontextmanager
async def running_telegram(
    settings: TelegramBot, tuning: Tuning = FAST, *, jobs: bool = True
) -> AsyncIterator[Core]:
    """The real Telegram adapter and (unless ``jobs`` is False) the runner, as tasks."""
    async with running(settings.core, settings.telegram, tuning=tuning, jobs=jobs) as core:
        yield core


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
