"""The real Telegram adapter, running on the real core, against the fake Bot API and host."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from adapters.telegram import TelegramAdapter
from bot.app import Core
from bot.settings import Settings
from tests.support.fakes.chevereto import FakeChevereto
from tests.support.fakes.telegram_api import TEST_TOKEN, FakeTelegram


def settings_for(
    telegram: FakeTelegram, chevereto: FakeChevereto, data_dir: Path, database: str, **extra: Any
) -> Settings:
    return Settings(
        _env_file=None,
        chevereto_url=chevereto.url,
        telegram_bot_token=TEST_TOKEN,
        telegram_api_url=telegram.api_url,
        telegram_file_url=telegram.file_url,
        data_dir=data_dir,
        database_url=database,
        **extra,
    )


@contextlib.asynccontextmanager
async def running_bot(settings: Settings) -> AsyncIterator[Core]:
    """Starts the core and the adapter as ``python -m bot`` would, and stops them after."""
    core = await Core.start(settings)
    adapter = TelegramAdapter(core)
    tasks = [asyncio.create_task(adapter.run()), asyncio.create_task(core.runner.run())]
    try:
        yield core
    finally:
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        await core.close()
        for result in results:
            if isinstance(result, Exception):
                raise result


def assert_delete_links_private(fake: FakeTelegram) -> None:
    for message in fake.sent:
        if "/delete/" in (message.get("text") or ""):
            assert int(message["chat_id"]) > 0, "a delete link was sent to a group"
            assert message["preview_disabled"], "a delete link was sent with a link preview"
