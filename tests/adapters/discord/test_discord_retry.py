"""Feedback while retrying, on Discord: the status (the deferred response, or a message in the
channel) says the bot will try again and when, within seconds of the failure; the final
answer is an edit of that same message, even from the next process. In a DM the answer holds
the delete link, and an edit cannot suppress embeds: it is sent anew, and the status deleted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import ADMIN_KEY, KEY
from tests.support.discord_harness import (
    ALICE_ID,
    BOB_ID,
    CHANNEL,
    OWNER_ID,
    SUPPRESS_EMBEDS,
    Harness,
    discord_for,
    discord_user,
    fake_fixture,  # noqa: F401 - a fixture
    guild_chat,
    running,
    settings_for,
)
from tests.support.fakes.chevereto import FakeChevereto
from tests.support.fakes.discord_api import FakeDiscord, RecordedRequest
from tests.support.retrying import (
    FEEDBACK_WITHIN_S,
    HOST_UNAVAILABLE,
    LAST_NOTE,
    NOTE,
    PAUSED,
    PAUSED_NOTE,
    due_now,
    waiting_to_retry,
)
from tests.support.running import FAST
from tests.support.waiting import eventually


@pytest.fixture(name="bot")
async def bot_fixture(
    fake: FakeDiscord, chevereto: FakeChevereto, tmp_path: Path
) -> AsyncIterator[Harness]:
    async with running(settings_for(chevereto, tmp_path), discord_for(fake), tuning=FAST) as (
        core,
        adapter,
    ):
        yield Harness(fake, chevereto, core, adapter)


def writes_to(bot: Harness, path: str) -> list[RecordedRequest]:
    """The bot's posts and edits whose path starts with ``path``, in order."""
    return [
        r for r in bot.fake.requests if r.path.startswith(path) and r.method in ("POST", "PATCH")
    ]


def contents(requests: list[RecordedRequest]) -> list[str]:
    return [r.json["content"] for r in requests]


async def mirror_channel(bot: Harness) -> None:
    await bot.core.store.keys.link(discord_user(OWNER_ID), ADMIN_KEY)
    await bot.core.store.chats.set_mirror(guild_chat(), True, discord_user(OWNER_ID))


async def post(bot: Harness, where: str) -> str:
    """An upload that will be answered in a status message: by /upload (its deferred response),
    in a mirrored channel (one file or two), or by DM. The path of the status message's
    writes (its edits start with it)."""
    if where == "interaction":
        await bot.core.store.keys.link(discord_user(ALICE_ID), KEY)
        file = bot.fake.attachment_option("file", bot.image())
        payload = await bot.slash("upload", file)
        return f"/webhooks/{payload['application_id']}/{payload['token']}/messages/"
    if where == "dm":
        await bot.core.store.keys.link(discord_user(ALICE_ID), KEY)
        dm = bot.fake.snowflake()
        await bot.post(dm, bot.image(), user_id=ALICE_ID)
        return f"/channels/{dm}/messages"
    await mirror_channel(bot)
    images = [bot.image("a.png"), bot.image("b.png")] if where == "album" else [bot.image()]
    await bot.post(CHANNEL, *images, user_id=BOB_ID)
    return f"/channels/{CHANNEL}/messages"


@pytest.mark.parametrize("where", ["interaction", "channel", "album"])
async def test_a_host_down_once_is_told_then_the_links_replace_it(bot: Harness, where) -> None:
    """A cut on the first attempt: within 5 s the status says the bot tries again, when and
    which try; the links then replace that very message."""
    bot.chevereto.close_next()
    path = await post(bot, where)
    done = "2 of 2 files uploaded" if where == "album" else "/image/"

    def answered(r: RecordedRequest) -> bool:
        return r.method == "PATCH" and done in str(r.json) and "/delete/" not in str(r.json)

    await bot.answered(answered, timeout=15)
    writes = [r for r in writes_to(bot, path) if "/delete/" not in str(r.json)]
    note = next(r for r in writes if "trying again" in str(r.json))
    failed_at = bot.chevereto.upload_requests[0].at
    print(f"discord ({where}): first failure -> status {note.at - failed_at:.3f} s")
    assert note.at - failed_at < FEEDBACK_WITHIN_S
    assert note.json["content"] == NOTE
    answer = writes[-1]
    assert answer.method == "PATCH"
    assert done in str(answer.json)
    if where == "interaction":
        assert answer.path == note.path  # the deferred response, edited again
    else:
        channel = path.split("/")[2]
        (message,) = [m for m in bot.sent_by_bot(int(channel)) if done in m["content"]]
        assert note.method == "POST"
        assert answer.path == f"{path}/{message['id']}"
    assert [r for r in writes if r.method == "POST" and done in str(r.json)] == []


async def test_in_a_dm_a_host_down_once_is_told_then_one_answer_takes_its_place(
    bot: Harness,
) -> None:
    """A cut on the first attempt of a DM's upload: within 5 s a status message says the bot
    tries again; then the one answer, links and delete link with embeds suppressed, is sent
    anew, and the status message is deleted, never edited into it."""
    bot.chevereto.close_next()
    path = await post(bot, "dm")
    dm = int(path.split("/")[2])
    note = await bot.answered(lambda r: r.path == path and "trying again" in str(r.json))
    (status,) = bot.sent_by_bot(dm)
    deleted = await bot.answered(
        lambda r: r.method == "DELETE" and r.path == f"{path}/{status['id']}", timeout=15
    )
    failed_at = bot.chevereto.upload_requests[0].at
    print(f"discord (dm): first failure -> status {note.at - failed_at:.3f} s")
    assert note.at - failed_at < FEEDBACK_WITHIN_S
    assert (note.method, note.json["content"]) == ("POST", NOTE)
    note_and_answer = writes_to(bot, path)
    assert note_and_answer[0] is note
    (answer,) = note_and_answer[1:]
    assert answer.method == "POST"
    assert "/image/" in answer.json["content"]
    assert "/delete/" in answer.json["content"]
    assert answer.json["flags"] == SUPPRESS_EMBEDS
    assert answer.at <= deleted.at
    assert [m["content"] for m in bot.sent_by_bot(dm)] == [answer.json["content"]]


async def test_a_host_down_for_good_ends_in_the_status_message(bot: Harness) -> None:
    """Every attempt fails: one message in the channel, edited for the last try, then into the
    one sentence that says the host cannot be reached."""
    bot.chevereto.close_next(times=3)
    path = await post(bot, "channel")
    await bot.answered(lambda r: r.method == "PATCH" and HOST_UNAVAILABLE in str(r.json))
    (message,) = bot.sent_by_bot(CHANNEL)
    assert contents(writes_to(bot, path)) == [NOTE, LAST_NOTE, HOST_UNAVAILABLE]
    assert message["content"] == HOST_UNAVAILABLE


async def test_the_status_message_survives_a_restart(
    fake: FakeDiscord, chevereto: FakeChevereto, tmp_path: Path
) -> None:
    """The bot stops after the note; the next process answers in that same channel message."""
    settings, discord_settings = settings_for(chevereto, tmp_path), discord_for(fake)
    chevereto.close_next()
    async with running(settings, discord_settings, tuning=PAUSED) as (core, adapter):
        bot = Harness(fake, chevereto, core, adapter)
        path = await post(bot, "channel")
        await eventually(lambda: waiting_to_retry(core.store))
    async with running(settings, discord_settings, tuning=FAST) as (core, _):
        await due_now(core.store)
        await bot.answered(lambda r: r.method == "PATCH" and "Short link" in str(r.json))
    (message,) = bot.sent_by_bot(CHANNEL)
    first, *_, last = writes_to(bot, path)
    assert first.json["content"] == PAUSED_NOTE
    assert last.path == f"{path}/{message['id']}"
    assert "Short link" in str(last.json)
    assert len(chevereto.images) == 1
