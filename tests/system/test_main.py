"""``python -m bot`` from outside: clear one-line failures at start, serving, a clean stop."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from bot.chevereto.probe import probe_png
from tests.conftest import KEY
from tests.support.discord_harness import TOKEN as DISCORD_TOKEN
from tests.support.fakes.discord_api import FakeDiscord
from tests.support.fakes.telegram_api import TEST_TOKEN, FakeTelegram
from tests.support.process import BotProcess, run_bot

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


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


async def test_a_malformed_access_entry_stops_the_start(tmp_path):
    """ALLOWED_USERS with an entry that is no platform:id stops the bot with one line naming it."""
    env = {
        "CHEVERETO_URL": "http://127.0.0.1:9",
        "TELEGRAM_BOT_TOKEN": TEST_TOKEN,
        "ALLOWED_USERS": "telegram:1, somebody",
    }
    code, err = await run_bot(env, tmp_path)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert "ALLOWED_USERS" in lines[0]
    assert "somebody" not in lines[0]


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
    """A token Telegram refuses stops the bot with exit code 2 and one line naming the variable,
    no traceback."""
    async with FakeTelegram() as telegram:
        env = {
            "CHEVERETO_URL": chevereto.url,
            "TELEGRAM_BOT_TOKEN": "999:wrong-token-value",
            "TELEGRAM_API_URL": telegram.api_url,
            "TELEGRAM_FILE_URL": telegram.file_url,
            "DATA_DIR": str(tmp_path / "data"),
        }
        code, err = await run_bot(env, tmp_path)
    assert code == 2
    assert len([line for line in err.splitlines() if "TELEGRAM_BOT_TOKEN" in line]) == 1
    assert "Traceback" not in err
    assert "wrong-token-value" not in err


DEBIAN_PYTHON = Path("/usr/bin/python3")


def _debian_python_311() -> bool:
    """Debian 12's own Python (3.11.2) is there, with the ABI of the venv's packages."""
    if sys.version_info[:2] != (3, 11) or not DEBIAN_PYTHON.exists():
        return False
    found = subprocess.run(  # noqa: S603 - a fixed interpreter path
        [DEBIAN_PYTHON, "-c", "import sys; print(sys.version_info[:2] == (3, 11))"],
        capture_output=True,
        text=True,
        check=False,
    )
    return found.stdout.strip() == "True"


async def test_rejected_token_under_debian_python(tmp_path, chevereto):
    """Under Debian 12's Python 3.11.2, where ``sys.exit`` inside ``except*`` prints a
    BaseExceptionGroup traceback and exits 1, a refused token still exits 2 in one line."""
    assert _debian_python_311(), "these machines run Debian 12: /usr/bin/python3 is 3.11"
    async with FakeTelegram() as telegram:
        env = {
            "CHEVERETO_URL": chevereto.url,
            "TELEGRAM_BOT_TOKEN": "999:wrong-token-value",
            "TELEGRAM_API_URL": telegram.api_url,
            "TELEGRAM_FILE_URL": telegram.file_url,
            "DATA_DIR": str(tmp_path / "data"),
            "PYTHONPATH": os.pathsep.join([sysconfig.get_paths()["purelib"], str(ROOT)]),
        }
        code, err = await run_bot(env, tmp_path, python=str(DEBIAN_PYTHON))
    assert code == 2
    assert "Traceback" not in err
    assert "cannot start: Telegram refused TELEGRAM_BOT_TOKEN" in err


async def test_rejected_discord_token_exits_2(tmp_path, chevereto):
    """A token Discord refuses (401 at login) stops the bot with exit code 2, one line naming
    DISCORD_BOT_TOKEN."""
    async with FakeDiscord(token=DISCORD_TOKEN) as discord:
        env = {
            "CHEVERETO_URL": chevereto.url,
            "DISCORD_BOT_TOKEN": "wrong-discord-token",
            "DISCORD_API_URL": discord.api_url,
            "DATA_DIR": str(tmp_path / "data"),
        }
        code, err = await run_bot(env, tmp_path)
    assert code == 2
    (line,) = [line for line in err.splitlines() if "DISCORD_BOT_TOKEN" in line]
    assert "refused DISCORD_BOT_TOKEN" in line
    assert "Traceback" not in err
    assert "wrong-discord-token" not in err
    assert discord.identifies == []


async def test_waits_for_the_bot_api_then_serves(tmp_path, chevereto, unused_port):
    """Started while nothing listens at TELEGRAM_API_URL, the bot logs one line per failed try
    and never dies of it; once the Bot API comes up there, it serves. The site check meanwhile
    says the host is a Chevereto API v1."""
    base = f"http://127.0.0.1:{unused_port}"
    env = {
        "CHEVERETO_URL": chevereto.url,
        "TELEGRAM_BOT_TOKEN": TEST_TOKEN,
        "TELEGRAM_API_URL": f"{base}/bot",
        "TELEGRAM_FILE_URL": f"{base}/file/bot",
        "DATA_DIR": str(tmp_path / "data"),
        "DEFAULT_API_KEY": KEY,
    }
    async with BotProcess(env, tmp_path) as bot:
        for attempt in (1, 2):
            line = await bot.line(lambda text: "telegram: connecting failed" in text)
            assert f"(connection refused), try {attempt};" in line
        async with FakeTelegram(port=unused_port) as telegram:
            await telegram.wait_for_call("getUpdates", timeout=30)
            alice = telegram.user(1001)
            ref = telegram.add_file(probe_png(), mime_type="image/png")
            telegram.push_update(
                telegram.message_update(telegram.private_chat(alice), alice, photo=ref)
            )
            await telegram.wait_for(lambda m: "/delete/" in (m["text"] or ""), timeout=20)
            assert await bot.stop() == 0
    assert len(chevereto.site_checks) == 1
    assert "INFO bot.chevereto.check: CHEVERETO_URL check:" in bot.stderr
    assert "answers as a Chevereto API v1" in bot.stderr
    assert "unexpected" not in bot.stderr
    assert "Traceback" not in bot.stderr
    assert TEST_TOKEN.split(":")[1] not in bot.stderr


async def test_a_hanging_host_does_not_hold_the_start(tmp_path, chevereto):
    """The site check runs beside the start: with the host silent, Telegram is polled at once,
    and a stop while the check still waits is clean."""
    chevereto.delay = 60
    async with FakeTelegram() as telegram:
        env = {
            "CHEVERETO_URL": chevereto.url,
            "TELEGRAM_BOT_TOKEN": TEST_TOKEN,
            "TELEGRAM_API_URL": telegram.api_url,
            "TELEGRAM_FILE_URL": telegram.file_url,
            "DATA_DIR": str(tmp_path / "data"),
        }
        async with BotProcess(env, tmp_path) as bot:
            await telegram.wait_for_call("getUpdates", timeout=8)
            assert await bot.stop() == 0
    assert "CHEVERETO_URL check" not in bot.stderr  # still waiting when the bot was stopped
    assert "Traceback" not in bot.stderr


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
