"""Fault campaign, the chat platforms: Telegram's 429 during an answer, Discord's on a follow-up.

Both platforms rate-limit bots with HTTP 429 and a ``retry_after``; the answer must still
arrive, exactly once, after the wait.
"""

from __future__ import annotations

import pytest

from bot.chevereto.probe import probe_png
from bot.domain import ChatKind, ChatRef, UserRef
from tests.conftest import KEY
from tests.support.discord_harness import (
    ALICE_ID as DISCORD_ALICE_ID,
)
from tests.support.discord_harness import (
    EPHEMERAL,
    SUPPRESS_EMBEDS,
    Harness,
    bot_fixture,  # noqa: F401 - a fixture
    discord_user,
    fake_fixture,  # noqa: F401 - a fixture
)
from tests.support.fakes.telegram_api import FakeTelegram
from tests.support.fault_harness import (
    final_texts,
    photo_name,
    running_telegram,
    telegram_settings,
    upload_answer,
)
from tests.support.jobs import unfinished_jobs
from tests.support.waiting import eventually

ALICE_ID = 1001
GROUP_ID = -100500
TOO_MANY = "Too Many Requests: retry after 1"


def sqlite_in(tmp_path) -> str:
    """The platforms' limits are the subject here, not the database: SQLite only."""
    return f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"


@pytest.fixture
async def telegram():
    async with FakeTelegram() as fake:
        yield fake


@pytest.mark.slow
async def test_telegram_429_on_an_answer_is_waited_out(telegram, chevereto, tmp_path):
    """sendMessage answers 429 (retry_after 1) to the upload's answer: it arrives once, later."""
    settings = telegram_settings(telegram, chevereto.url, tmp_path / "data", sqlite_in(tmp_path))
    async with running_telegram(settings) as core:
        await core.store.keys.link(UserRef("telegram", str(ALICE_ID)), KEY)
        telegram.fail("sendMessage", status=429, description=TOO_MANY, retry_after=1)
        alice = telegram.user(ALICE_ID)
        ref = telegram.add_file(probe_png(), mime_type="image/png")
        update = telegram.message_update(telegram.private_chat(alice), alice, photo=ref)
        telegram.push_update(update)
        await telegram.wait_for(lambda m: "/delete/" in (m["text"] or ""), timeout=20)
        await eventually(lambda: _no_unfinished_jobs(core))
    public, secret = upload_answer(chevereto, photo_name(update["message"]))
    assert final_texts(telegram, ALICE_ID) == [f"{public}\n{secret}"]
    assert len(telegram.calls_to("sendMessage")) == 2  # the refused try, then the answer
    assert len(chevereto.images) == 1


@pytest.mark.slow
async def test_telegram_429_past_the_limiters_retries_repeats_no_answer(
    telegram, chevereto, tmp_path
):
    """The delete link's DM stays rate limited past every retry: the job tries again later and
    sends only that DM; the group's answer is not repeated."""
    settings = telegram_settings(telegram, chevereto.url, tmp_path / "data", sqlite_in(tmp_path))
    async with running_telegram(settings) as core:
        alice_ref = UserRef("telegram", str(ALICE_ID))
        await core.store.keys.link(alice_ref, KEY)
        group = telegram.group_chat(GROUP_ID)
        await core.store.chats.set_mirror(
            ChatRef("telegram", str(GROUP_ID), ChatKind.GROUP), True, alice_ref
        )
        telegram.set_chat_member(GROUP_ID, telegram.bot_id, "administrator")
        telegram.fail(
            "sendMessage",
            status=429,
            description=TOO_MANY,
            retry_after=1,
            times=4,
            chat_id=ALICE_ID,
        )
        alice = telegram.user(ALICE_ID)
        ref = telegram.add_file(probe_png(), mime_type="image/png")
        update = telegram.message_update(group, alice, photo=ref)
        telegram.push_update(update)
        await telegram.wait_for(lambda m: "/delete/" in (m["text"] or ""), timeout=30)
        await eventually(lambda: _no_unfinished_jobs(core))
    public, secret = upload_answer(chevereto, photo_name(update["message"]))
    assert final_texts(telegram, GROUP_ID) == [public]
    assert final_texts(telegram, ALICE_ID) == [secret]
    assert len(chevereto.images) == 1


async def _no_unfinished_jobs(core) -> bool:
    return await unfinished_jobs(core.store) == 0


async def test_discord_429_on_a_follow_up_is_waited_out(bot: Harness) -> None:
    """The delete link's follow-up is rate limited once: it is sent again, once, ephemeral."""
    await bot.core.store.keys.link(discord_user(DISCORD_ALICE_ID), KEY)
    bot.fake.fail("POST", r"^/webhooks/\d+/[^/]+$", status=429, retry_after=0.5)
    payload = await bot.slash("upload", bot.fake.attachment_option("file", bot.image()))
    await bot.answer_of(payload, "/delete/", timeout=20)
    await eventually(lambda: _no_unfinished_jobs(bot.core))
    follow_ups = [
        r
        for r in bot.fake.requests
        if r.method == "POST" and r.path.startswith("/webhooks/") and payload["token"] in r.path
    ]
    assert [r.status for r in follow_ups] == [429, 200]
    (image,) = bot.chevereto.images.values()
    delete_link = f"{bot.chevereto.url}/image/{image.id}/delete/{image.delete_hash}"
    sent = follow_ups[-1].json
    assert sent["content"] == (
        "Delete link for cat.png (only you see this; opening it deletes the file):\n" + delete_link
    )
    assert sent["flags"] == EPHEMERAL | SUPPRESS_EMBEDS
    edits = [r for r in bot.fake.requests if r.method == "PATCH" and payload["token"] in r.path]
    assert [r.json["content"] for r in edits] == [
        f"cat.png\n{bot.chevereto.url}/image/{image.id}\n{bot.chevereto.url}/{image.id}"
    ]
