"""An update is acknowledged only once its job is committed: ``python -m bot`` killed between
the job's write and its commit never told Telegram it had the update, so the update comes
again to the next process, which answers it once.

PostgreSQL holds the commit open on purpose: a deferred constraint trigger on ``jobs`` sleeps
at COMMIT, after the job's row is written and before the transaction ends. The bot is killed
there, the transaction is rolled back with it, and nothing of the job remains.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from bot.chevereto.probe import probe_png
from tests.conftest import KEY
from tests.support.fakes.chevereto import FakeChevereto
from tests.support.fakes.telegram_api import FakeTelegram
from tests.support.fault_harness import final_texts
from tests.support.process import BotProcess
from tests.support.waiting import eventually

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

TOKEN = "7301234568:AAH-commit-test-token-0123456789abcdefg"
ALICE_ID = 1001
HOLD_COMMITS = """
CREATE FUNCTION hold_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_sleep(120); RETURN NULL; END $$;
CREATE CONSTRAINT TRIGGER held_commit AFTER INSERT ON jobs
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION hold_commit();
"""
HELD = "SELECT pid FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND datname = $1"


async def held_commits(admin: asyncpg.Connection, database: str) -> list[int]:
    return [row["pid"] for row in await admin.fetch(HELD, database)]


async def test_killed_between_the_write_and_the_commit_the_update_comes_again(
    tmp_path: Path, chevereto: FakeChevereto, postgres_database: str
) -> None:
    name = postgres_database.rsplit("/", 1)[1]
    admin = await asyncpg.connect(
        postgres_database.replace("postgresql+asyncpg://", "postgresql://")
    )
    try:
        await admin.execute(HOLD_COMMITS)
        async with FakeTelegram(token=TOKEN) as telegram:
            env = {
                "CHEVERETO_URL": chevereto.url,
                "TELEGRAM_BOT_TOKEN": TOKEN,
                "TELEGRAM_API_URL": telegram.api_url,
                "TELEGRAM_FILE_URL": telegram.file_url,
                "DATA_DIR": str(tmp_path / "data"),
                "DATABASE_URL": postgres_database,
                "DEFAULT_API_KEY": KEY,
            }
            async with BotProcess(env, tmp_path) as first:
                await telegram.wait_for_call("getUpdates", timeout=30)
                alice = telegram.user(ALICE_ID)
                ref = telegram.add_file(probe_png(), mime_type="image/png")
                chat = telegram.private_chat(alice)
                update_id = telegram.push_update(telegram.message_update(chat, alice, photo=ref))
                await eventually(lambda: held_commits(admin, name), within=30)
                assert first.process is not None
                first.process.kill()
                await first.process.wait()
            # Its job's transaction never ended: it ends now, rolled back, as a crash leaves it.
            for pid in await held_commits(admin, name):
                await admin.execute("SELECT pg_terminate_backend($1)", pid)
            await admin.execute("DROP TRIGGER held_commit ON jobs")
            assert await admin.fetchval("SELECT count(*) FROM jobs") == 0
            assert all(o is None or o <= update_id for o in telegram.get_updates_offsets)
            assert final_texts(telegram, ALICE_ID) == []

            async with BotProcess(env, tmp_path) as second:
                await telegram.wait_for(lambda m: "/delete/" in (m["text"] or ""), timeout=30)
                assert await second.stop() == 0
            (answer,) = final_texts(telegram, ALICE_ID)
            assert "/image/" in answer
            assert len(chevereto.images) == 1
    finally:
        await admin.close()
