"""A host outage through the real discord.py: a DM to one user (``tell``), and the admins told
once that the host is down and once that it is back."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bot.domain import Reply, Visibility
from bot.errors import NotTheApi
from bot.texts import t
from tests.support.discord_harness import (
    ALICE_ID,
    BOB_ID,
    Harness,
    bot_fixture,  # noqa: F401 - a fixture
    discord_for,
    discord_user,
    fake_fixture,  # noqa: F401 - a fixture
    running,
    settings_for,
)
from tests.support.fakes.chevereto import FakeChevereto
from tests.support.fakes.discord_api import FakeDiscord
from tests.support.running import QUICK

NOTICE = Reply(t("outage.back", site="https://img.example"), visibility=Visibility.PRIVATE_TO_USER)


def dm_to(fake: FakeDiscord, user_id: int) -> list[str]:
    """What the bot posted in its DM with the user, in order."""
    return [m["content"] for m in fake.dms_to(user_id)]


async def test_tell_opens_a_dm_and_posts(bot: Harness) -> None:
    """``tell`` opens the user's DM and posts the reply there, in the language given."""
    assert await bot.adapter.tell(discord_user(ALICE_ID), NOTICE, "en")
    opened = [r for r in bot.fake.requests if r.path == "/users/@me/channels"]
    assert [r.json for r in opened] == [{"recipient_id": ALICE_ID}]
    expected = "The host https://img.example is back; the files that waited are going up now."
    assert dm_to(bot.fake, ALICE_ID) == [expected]


async def test_tell_to_closed_dms_is_false(bot: Harness) -> None:
    """A user whose DMs are closed to the bot: False, and nothing is posted."""
    bot.fake.close_dms(ALICE_ID)
    assert not await bot.adapter.tell(discord_user(ALICE_ID), NOTICE, "en")
    assert dm_to(bot.fake, ALICE_ID) == []


async def test_admins_hear_once_down_and_once_back(
    fake: FakeDiscord, chevereto: FakeChevereto, tmp_path: Path
) -> None:
    """Five failures in a row: Alice, an admin whose language is Chinese, hears once by DM that
    the host is down, then once that it is back; Bob, an admin whose DMs are closed, holds
    nothing up."""
    admins = f"discord:{BOB_ID},discord:{ALICE_ID}"
    settings = settings_for(chevereto, tmp_path / "data", bot_admins=admins)
    tuning = replace(QUICK, host_probe_s=0.05)
    fake.close_dms(BOB_ID)
    chevereto.outage = "cut"
    async with running(settings, discord_for(fake), tuning=tuning, jobs=False) as (core, _):
        await core.store.prefs.remember_language(discord_user(ALICE_ID), "zh")
        for _ in range(5):
            core.watch.report(NotTheApi("HTTP 503 with an HTML page, not the API"))
        await fake.wait_for(lambda r: r.method == "POST" and "没有响应" in str(r.json))
        chevereto.outage = None
        await fake.wait_for(lambda r: r.method == "POST" and "已恢复" in str(r.json))
    down, back = dm_to(fake, ALICE_ID)
    assert down.startswith(f"图床 {chevereto.url} 自 ")
    assert back == f"图床 {chevereto.url} 已恢复；等待中的文件正在上传。"
    assert dm_to(fake, BOB_ID) == []
