"""``python -m bot`` from outside: clear one-line failures at start, serving, a clean stop."""

from __future__ import annotations

import pytest

from bot.probe import probe_png
from tests.conftest import KEY
from tests.support.fakes.telegram_api import TEST_TOKEN, FakeTelegram
from tests.support.process import BotProcess, run_bot

pytestmark = pytest.mark.slow


async def test_no_token_names_both_variables(tmp_path):
    """With no platform token the bot exits non-zero with one line naming both variables."""
    code, err = await run_bot({"CHEVERETO_URL": "http://127.0.0.1:9"}, tmp_path)
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert "TELEGRAM_BOT_TOKEN" in lines[0]
    assert "DISCORD_BOT_TOKEN" in lines[0]


async def test_bad_value_names_its_variable(tmp_path):
    """A negative MAX_UPLOAD_MB fails at start with one line naming it, no traceback."""
    env = {
        "CHEVERETO_URL": "http://127.0.0.1:9",
        "TELEGRAM_BOT_TOKEN": TEST_TOKEN,
        "MAX_UPLOAD_MB": "-5",
    }
    code, err = await run_bot(env, tmp_path)
    assert code != 0
    assert "MAX_UPLOAD_MB" in err
    assert "Traceback" not in err
    assert TEST_TOKEN not in err


async def test_missing_site_is_named(tmp_path):
    """Without CHEVERETO_URL the bot says it is required."""
    code, err = await run_bot({"TELEGRAM_BOT_TOKEN": TEST_TOKEN}, tmp_path)
    assert code != 0
    assert "CHEVERETO_URL is required" in err


async def test_settings_come_from_a_dotenv_file(tmp_path):
    """A .env file in the working directory is read like the environment."""
    (tmp_path / ".env").write_text(
        f"CHEVERETO_URL=http://127.0.0.1:9\nMAX_UPLOAD_MB=0\nTELEGRAM_BOT_TOKEN={TEST_TOKEN}\n"
    )
    code, err = await run_bot({}, tmp_path)
    assert code != 0
    assert "MAX_UPLOAD_MB" in err


async def test_rejected_token_is_one_line(tmp_path, chevereto):
    """A token Telegram refuses stops the bot with one line that says so, no traceback."""
    async with FakeTelegram() as telegram:
        env = {
            "CHEVERETO_URL": chevereto.url,
            "TELEGRAM_BOT_TOKEN": "999:wrong-token-value",
            "TELEGRAM_API_URL": telegram.api_url,
            "TELEGRAM_FILE_URL": telegram.file_url,
            "DATA_DIR": str(tmp_path / "data"),
        }
        code, err = await run_bot(env, tmp_path)
    assert code == 1
    assert "TELEGRAM_BOT_TOKEN" in err
    assert "Traceback" not in err
    assert "wrong-token-value" not in err


async def test_serves_telegram_and_stops_cleanly(tmp_path, chevereto):
    """The process answers a photo with its links, then stops on SIGTERM with exit code 0."""
    async with FakeTelegram() as telegram:
        env = {
            "CHEVERETO_URL": chevereto.url,
            "TELEGRAM_BOT_TOKEN": TEST_TOKEN,
            "TELEGRAM_API_URL": telegram.api_url,
            "TELEGRAM_FILE_URL": telegram.file_url,
            "DATA_DIR": str(tmp_path / "data"),
            "DEFAULT_API_KEY": KEY,
            "LOG_LEVEL": "DEBUG",
        }
        async with BotProcess(env, tmp_path) as bot:
            await telegram.wait_for_call("getUpdates", timeout=30)
            alice = telegram.user(1001)
            ref = telegram.add_file(probe_png(), mime_type="image/png")
            telegram.push_update(
                telegram.message_update(telegram.private_chat(alice), alice, photo=ref)
            )
            secret = await telegram.wait_for(lambda m: "/delete/" in (m["text"] or ""), timeout=20)
            assert secret["preview_disabled"]
            assert await bot.stop() == 0
    assert chevereto.upload_requests[0].headers["x-api-key"] == KEY
    assert "Traceback" not in bot.stderr
    assert TEST_TOKEN.split(":")[1] not in bot.stderr
    assert KEY not in bot.stderr
    assert "/delete/" not in bot.stderr
    assert "stopped" in bot.stderr


async def test_unreachable_database_is_one_line(tmp_path, chevereto):
    """A DATABASE_URL nobody answers stops the bot with one line, never showing the password."""
    async with FakeTelegram() as telegram:
        env = {
            "CHEVERETO_URL": chevereto.url,
            "TELEGRAM_BOT_TOKEN": TEST_TOKEN,
            "TELEGRAM_API_URL": telegram.api_url,
            "TELEGRAM_FILE_URL": telegram.file_url,
            "DATABASE_URL": "postgresql+asyncpg://bot:hunter22@127.0.0.1:1/bot",
        }
        code, err = await run_bot(env, tmp_path)
    assert code == 1
    assert "cannot open the database" in err
    assert "hunter22" not in err
    assert "Traceback" not in err
