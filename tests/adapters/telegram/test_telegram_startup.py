"""Telegram at start: an unreachable Bot API is waited for, a refused token stops the bot, and
``connected()`` says whether updates are arriving. The real PTB against the fake Bot API."""

from __future__ import annotations

import logging

import pytest

from adapters.telegram.adapter import TelegramAdapter
from adapters.telegram.settings import TelegramSettings
from bot.app import Core
from bot.errors import TokenRejected
from tests.support.fakes.telegram_api import TEST_TOKEN, FakeTelegram
from tests.support.running import FAST, running
from tests.support.settings import core_settings
from tests.support.telegram_harness import telegram_for
from tests.support.waiting import eventually

ALICE_ID = 1001


def retries(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "bot.platform.reconnect" and r.levelno == logging.WARNING
    ]


async def help_is_answered(telegram: FakeTelegram) -> None:
    alice = telegram.user(ALICE_ID)
    telegram.push_update(telegram.message_update(telegram.private_chat(alice), alice, text="/help"))
    await telegram.wait_for(lambda m: "/link" in (m["text"] or ""))


async def test_an_unreachable_bot_api_is_waited_for(
    chevereto, tmp_path, unused_port, caplog
) -> None:
    """Nothing listens where the Bot API should be: one line per failed try, never a crash,
    then the bot serves as soon as the Bot API comes up there."""
    base = f"http://127.0.0.1:{unused_port}"
    platform = TelegramSettings(
        _env_file=None,  # type: ignore[call-arg]
        bot_token=TEST_TOKEN,
        api_url=f"{base}/bot",
        file_url=f"{base}/file/bot",
    )
    settings = core_settings(chevereto, tmp_path / "data")
    with caplog.at_level(logging.INFO):
        async with running(settings, platform, tuning=FAST) as core:
            adapter = core.platforms["telegram"]
            await eventually(lambda: len(retries(caplog)) >= 2)
            assert not adapter.connected()
            async with FakeTelegram(port=unused_port) as telegram:
                await help_is_answered(telegram)
                assert adapter.connected()
    lines = retries(caplog)
    assert (
        lines[0] == "telegram: connecting failed (connection refused), try 1; trying again in 0.1 s"
    )
    assert lines[1].startswith("telegram: connecting failed (connection refused), try 2;")
    assert all(TEST_TOKEN.split(":")[1] not in line for line in lines)


async def test_a_refused_token_stops_it_with_exit_code_2(chevereto, tmp_path) -> None:
    """A token the Bot API answers 401 to is not tried again: TokenRejected names the variable."""
    core = await Core.start(core_settings(chevereto, tmp_path / "data"), FAST)
    try:
        async with FakeTelegram() as telegram:
            adapter = core.connect(telegram_for(telegram, token="999:not-the-token"))
            with pytest.raises(TokenRejected) as refused:
                await adapter.run()
            assert telegram.unauthorized_requests == 1
    finally:
        await core.close()
    assert refused.value.exit_code == 2
    assert refused.value.variable == "TELEGRAM_BOT_TOKEN"
    assert "not-the-token" not in str(refused.value)


async def test_connected_follows_the_long_poll(chevereto, tmp_path) -> None:
    """Connected once getUpdates answers; not while it fails (a 502); connected again after."""
    async with FakeTelegram() as telegram:
        settings = core_settings(chevereto, tmp_path / "data")
        async with running(settings, telegram_for(telegram), tuning=FAST) as core:
            adapter = core.platforms["telegram"]
            assert isinstance(adapter, TelegramAdapter)
            assert not adapter.connected()
            await help_is_answered(telegram)
            assert adapter.connected()
            telegram.fail("getUpdates", status=502, description="Bad Gateway", times=3)
            alice = telegram.user(ALICE_ID)
            chat = telegram.private_chat(alice)
            telegram.push_update(telegram.message_update(chat, alice, text="/start"))
            await eventually(lambda: not adapter.connected())
            await eventually(adapter.connected)


async def test_webhook_mode_is_connected_once_set_and_retries_set_webhook(
    chevereto, tmp_path, unused_port, caplog
) -> None:
    """A setWebhook that fails on the way (a 502) is tried again; connected once it worked."""
    async with FakeTelegram() as telegram:
        telegram.fail("setWebhook", status=502, description="Bad Gateway")
        platform = telegram_for(
            telegram,
            webhook_url=f"http://127.0.0.1:{unused_port}/hook",
            webhook_listen=f"127.0.0.1:{unused_port}",
        )
        settings = core_settings(chevereto, tmp_path / "data")
        with caplog.at_level(logging.INFO):
            async with running(settings, platform, tuning=FAST) as core:
                adapter = core.platforms["telegram"]
                await eventually(adapter.connected)
                assert telegram.webhook is not None
    assert len(telegram.calls_to("setWebhook")) == 2
    (line,) = retries(caplog)
    assert line.startswith("telegram: connecting failed")
