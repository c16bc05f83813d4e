"""Access lists, the shared-key quota and /stats through the real python-telegram-bot."""

from __future__ import annotations

import pytest

from bot.domain import UserRef
from bot.store import Prefs
from tests.conftest import KEY, OTHER_KEY
from tests.support.jobs import unfinished_jobs
from tests.support.settings import core_settings
from tests.support.telegram_harness import (
    ALICE_ID,
    BOB_ID,
    GROUP_ID,
    handled,
    mirror_on,
    photo_update,
    texts_to,
    user_ref,
)

PRIVATE_BOT = "This bot is private"


@pytest.fixture
def settings(chevereto, tmp_path, database):
    """Alice is listed; the group is listed; Alice reads /stats; the shared key is limited."""
    return core_settings(
        chevereto,
        tmp_path / "data",
        database,
        allowed_users=f"telegram:{ALICE_ID}",
        allowed_chats=f"telegram:{GROUP_ID}",
        bot_admins=f"telegram:{ALICE_ID}",
        default_api_key=OTHER_KEY,
        shared_key_daily_limit=2,
    )


async def test_someone_not_listed_hears_once_and_leaves_no_trace(bot, telegram, chevereto):
    """Carol, on no list, sends a photo and commands in private: one "private" sentence, then
    silence; nothing fetched, uploaded or stored."""
    carol = telegram.user(3003, language_code="zh-hans")
    chat = telegram.private_chat(carol)
    telegram.push_update(photo_update(telegram, chat, carol))
    telegram.push_update(telegram.message_update(chat, carol, text="/expire 1h"))
    last = telegram.push_update(photo_update(telegram, chat, carol))
    await handled(telegram, last)
    assert texts_to(telegram, 3003) == ["这是一个私有机器人：只为管理员允许的用户和群组服务。"]
    assert telegram.calls_to("getFile") == []
    assert chevereto.upload_requests == []
    assert await unfinished_jobs(bot.store) == 0
    assert await bot.store.prefs.of(UserRef("telegram", "3003")) == Prefs()


async def test_members_of_a_listed_group_are_served_there(bot, telegram, chevereto):
    """Bob is not listed, but the group is: his photo there is mirrored (with his admin's key)."""
    await mirror_on(bot, telegram)
    dave = telegram.user(3004)
    telegram.push_update(photo_update(telegram, telegram.group_chat(GROUP_ID), dave))
    await telegram.wait_for(lambda m: m["chat_id"] == GROUP_ID and "/image/" in (m["text"] or ""))
    assert chevereto.upload_requests[0].headers["x-api-key"] == OTHER_KEY


async def test_the_shared_key_stops_at_the_daily_limit(bot, telegram, chevereto):
    """Alice has no key: two photos go up with the shared key, the third is refused before
    any download, saying to link her own key."""
    alice = telegram.user(ALICE_ID)
    chat = telegram.private_chat(alice)
    for _ in range(2):
        telegram.push_update(photo_update(telegram, chat, alice))
        await telegram.wait_for(lambda m: "/delete/" in (m["text"] or ""))
        telegram.sent.clear()
    files_fetched = len(telegram.calls_to("getFile"))
    telegram.push_update(photo_update(telegram, chat, alice))
    refusal = await telegram.wait_for(lambda m: "/link" in (m["text"] or ""))
    assert "today's 2 uploads" in refusal["text"]
    assert len(chevereto.upload_requests) == 2
    assert len(telegram.calls_to("getFile")) == files_fetched
    await bot.store.keys.link(user_ref(ALICE_ID), KEY)
    telegram.push_update(photo_update(telegram, chat, alice))
    await telegram.wait_for(lambda m: "/delete/" in (m["text"] or ""))
    assert chevereto.upload_requests[-1].headers["x-api-key"] == KEY


async def test_stats_for_the_admin_alone(bot, telegram):
    """Alice (an admin) gets the numbers in private; Bob gets the refusal; the admin's menu
    alone lists /stats."""
    await bot.store.keys.link(user_ref(ALICE_ID), KEY)
    alice, bob = telegram.user(ALICE_ID), telegram.user(BOB_ID)
    telegram.push_update(photo_update(telegram, telegram.private_chat(alice), alice))
    await telegram.wait_for(lambda m: "/delete/" in (m["text"] or ""))
    await bot.store.keys.link(user_ref(BOB_ID), OTHER_KEY)
    telegram.push_update(
        telegram.message_update(telegram.private_chat(alice), alice, text="/stats")
    )
    stats = await telegram.wait_for(lambda m: "Uploads today" in (m["text"] or ""))
    assert "Uploads today: 1 uploaded" in stats["text"]
    assert "Users with a linked key: 2" in stats["text"]
    telegram.push_update(telegram.message_update(telegram.group_chat(GROUP_ID), bob, text="/stats"))
    refused = await telegram.wait_for(lambda m: m["chat_id"] == GROUP_ID)
    assert "not allowed" in refused["text"]
    everyone = [c["command"] for c in telegram.commands_for("") or []]
    admin = [
        c["command"] for c in telegram.commands_for("", {"type": "chat", "chat_id": ALICE_ID}) or []
    ]
    assert "stats" not in everyone
    assert "stats" in admin
