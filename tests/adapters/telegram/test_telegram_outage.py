"""A host outage through the real python-telegram-bot: a private message to one user (``tell``),
and the admins told once that the host is down and once that it is back, each in their
language."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.domain import Reply, Visibility
from bot.errors import HostNotAnswering
from bot.texts import t
from tests.conftest import KEY
from tests.support.jobs import unfinished_jobs
from tests.support.running import QUICK, running
from tests.support.settings import core_settings
from tests.support.telegram_harness import (
    ALICE_ID,
    BOB_ID,
    all_answered,
    history,
    photo_update,
    texts_to,
    user_ref,
)
from tests.support.waiting import eventually

WAITS = "The host is down just now: your file waits"
NOTICE = Reply(t("outage.back", site="https://img.example"), visibility=Visibility.PRIVATE_TO_USER)


async def test_tell_writes_to_the_user_s_private_chat(bot, telegram):
    """``tell`` sends the reply, in the language given, to the chat whose id is the user's."""
    adapter = bot.platforms["telegram"]
    assert await adapter.tell(user_ref(ALICE_ID), NOTICE, "zh")
    assert texts_to(telegram, ALICE_ID) == [
        "图床 https://img.example 已恢复；等待中的文件正在上传。"
    ]


async def test_tell_says_when_the_user_blocked_the_bot(bot, telegram):
    """A user who never started the bot, or blocked it: False, and nothing is sent."""
    telegram.forbid_chat(ALICE_ID)
    assert not await bot.platforms["telegram"].tell(user_ref(ALICE_ID), NOTICE, "en")
    assert texts_to(telegram, ALICE_ID) == []


@pytest.fixture
def settings(chevereto, tmp_path, database):
    """Alice and Bob are admins here; the Discord admin's platform does not run here."""
    admins = f"telegram:{ALICE_ID},telegram:{BOB_ID},discord:5"
    return core_settings(chevereto, tmp_path / "data", database, bot_admins=admins)


async def test_admins_hear_once_down_and_once_back(settings, platform, telegram, chevereto):
    """Five failures in a row: each admin hears once that the host is down (Alice in English,
    Bob in Chinese, the language he last used); failures while down add nothing; once a probe
    finds the site again, each hears once that it is back."""
    tuning = replace(QUICK, host_probe_s=0.05)
    chevereto.outage = "page"
    async with running(settings, platform, tuning=tuning, jobs=False) as core:
        await core.store.prefs.remember_language(user_ref(BOB_ID), "zh")
        for _ in range(10):
            core.watch.report(HostNotAnswering("upload failed: ConnectError"))
        await telegram.wait_for(lambda m: m["chat_id"] == BOB_ID)
        await telegram.wait_for(lambda m: m["chat_id"] == ALICE_ID)
        chevereto.outage = None
        await telegram.wait_for(lambda m: "back" in m["text"])
        await telegram.wait_for(lambda m: "已恢复" in m["text"])
    site = chevereto.url
    alice, bob = texts_to(telegram, ALICE_ID), texts_to(telegram, BOB_ID)
    assert len(alice) == len(bob) == 2
    assert alice[0].startswith(f"The host {site} has not answered since ")
    assert alice[0].endswith(" UTC; uploads wait for it (up to 1 h).")
    assert alice[1] == f"The host {site} is back; the files that waited are going up now."
    assert bob[0].startswith(f"图床 {site} 自 ")
    assert bob[0].endswith("（最多 1 小时）。")
    assert bob[1] == f"图床 {site} 已恢复；等待中的文件正在上传。"


async def test_files_sent_during_a_long_outage_wait_then_go_up_once(
    settings, platform, telegram, chevereto
):
    """The host is down far longer than three attempts' worth: five users' photos wait, each
    user's status message says so, the admins hear once each way, and once the host is back
    every photo goes up exactly once and its links replace that status message."""
    tuning = replace(QUICK, host_probe_s=0.05, retry_delays=(0.05, 0.05))
    users = [3001 + n for n in range(5)]
    chevereto.outage = "cut"
    async with running(settings, platform, tuning=tuning) as core:
        await telegram.wait_for_call("getUpdates")
        for user_id in users:
            await core.store.keys.link(user_ref(user_id), KEY)
            user = telegram.user(user_id)
            telegram.push_update(photo_update(telegram, telegram.private_chat(user), user))
        await telegram.wait_for(lambda m: m["chat_id"] == ALICE_ID and "not answered" in m["text"])
        for user_id in users:
            await telegram.wait_for(lambda m, u=user_id: m["chat_id"] == u and WAITS in m["text"])
        probes = len(chevereto.site_checks)
        await eventually(lambda: len(chevereto.site_checks) >= probes + 20)  # a long while
        assert chevereto.images == {}
        assert await unfinished_jobs(core.store) == len(users)
        chevereto.outage = None
        await eventually(lambda: all_answered(core), within=30)
    assert len(chevereto.images) == len(users)
    assert len({image.md5 for image in chevereto.images.values()}) == len(users)
    for user_id in users:
        (status,) = history(telegram, user_id).values()
        assert any(WAITS in shown["text"] for shown in status)
        assert "/delete/" in status[-1]["text"]
        assert "/image/" in status[-1]["text"]
    told = texts_to(telegram, ALICE_ID)
    assert [text.split(" ")[3] for text in told] == ["has", "is"]  # down once, back once
