"""A host outage through the real python-telegram-bot: a private message to one user (``tell``)."""

from __future__ import annotations

from bot.domain import Reply, Visibility
from bot.texts import t
from tests.support.telegram_harness import ALICE_ID, texts_to, user_ref

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
