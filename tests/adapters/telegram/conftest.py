"""The Telegram adapter's fixtures: the fake Bot API, the settings, the running bot."""

from __future__ import annotations

import pytest

from tests.support.fakes.telegram_api import FakeTelegram
from tests.support.running import QUICK, running
from tests.support.settings import core_settings
from tests.support.telegram_harness import assert_delete_links_private, telegram_for


@pytest.fixture
async def telegram():
    """The fake Bot API; afterwards, no delete link may have gone to a group or with a preview."""
    async with FakeTelegram() as fake:
        yield fake
        assert_delete_links_private(fake)


@pytest.fixture
def settings(chevereto, tmp_path, database):
    return core_settings(chevereto, tmp_path / "data", database)


@pytest.fixture
def platform(telegram):
    return telegram_for(telegram)


@pytest.fixture
async def bot(settings, platform, telegram):
    async with running(settings, platform, tuning=QUICK) as core:
        await telegram.wait_for_call("getUpdates")
        yield core
