"""Feedback while retrying, on Telegram: the status message says the bot will try again and
when, within seconds of the failure; the final answer is an edit of that same message (in a
private chat, the one answer, delete link included, previews off)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import KEY
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
from tests.support.running import FAST, running
from tests.support.settings import core_settings
from tests.support.telegram_harness import (
    ALICE_ID,
    GROUP_ID,
    history,
    mirror_on,
    photo_update,
    texts_to,
    user_ref,
)
from tests.support.waiting import eventually

JSON = dict[str, Any]


def texts(versions: list[JSON]) -> list[str]:
    return [version["text"] for version in versions]


async def post(core, telegram, where: str) -> int:
    """Alice posts a photo (two as an album) in private or in a mirrored group; the chat's id."""
    alice = telegram.user(ALICE_ID)
    await core.store.keys.link(user_ref(ALICE_ID), KEY)
    if where == "group":
        await mirror_on(core, telegram)
        telegram.push_update(photo_update(telegram, telegram.group_chat(GROUP_ID), alice))
        return GROUP_ID
    chat = telegram.private_chat(alice)
    for _ in range(2 if where == "album" else 1):
        album = "alb1" if where == "album" else None
        telegram.push_update(photo_update(telegram, chat, alice, media_group_id=album))
    return ALICE_ID


def status_of(telegram, chat_id: int) -> list[JSON]:
    """The versions of the one message that began as a retry note."""
    (status,) = [v for v in history(telegram, chat_id).values() if "trying again" in v[0]["text"]]
    return status


@pytest.fixture
def settings(chevereto, tmp_path):
    return core_settings(chevereto, tmp_path / "data")


@pytest.mark.parametrize("where", ["private", "group", "album"])
async def test_a_host_down_once_is_told_then_the_links_replace_it(
    settings, platform, telegram, chevereto, where
):
    """A cut on the first attempt: within 5 s a status message says the bot tries again, when,
    and which try; the links then replace that message (an edit, not a new message). In
    private that edit is the one answer, delete link included, previews off; in a group the
    delete link goes to the poster alone."""
    chevereto.close_next()
    async with running(settings, platform, tuning=FAST) as core:
        chat_id = await post(core, telegram, where)
        await telegram.wait_for(lambda m: "/delete/" in (m["text"] or ""), timeout=15)
    status = status_of(telegram, chat_id)
    failed_at = chevereto.upload_requests[0].at
    print(f"telegram ({where}): first failure -> status {status[0]['at'] - failed_at:.3f} s")
    assert status[0]["at"] - failed_at < FEEDBACK_WITHIN_S
    assert status[0]["text"] == NOTE
    assert status[0]["method"] == "sendMessage"
    assert status[-1]["method"] == "editMessageText"
    assert "/image/" in status[-1]["text"]
    answers = [m for m in history(telegram, chat_id).values() if "/image/" in m[-1]["text"]]
    assert answers == [status]  # the answer is the status message, edited
    if where == "group":
        assert "/delete/" not in status[-1]["text"]
        assert len([t for t in texts_to(telegram, ALICE_ID) if "/delete/" in t]) == 1
    else:
        assert "/delete/" in status[-1]["text"]
        assert status[-1]["preview_disabled"]


async def test_a_host_down_for_good_ends_in_the_status_message(
    settings, platform, telegram, chevereto
):
    """Every attempt fails: one status message, edited for the last try, then into the one
    sentence that says the host cannot be reached."""
    chevereto.close_next(times=3)
    async with running(settings, platform, tuning=FAST) as core:
        await post(core, telegram, "private")
        await eventually(lambda: HOST_UNAVAILABLE in [m["text"] for m in telegram.sent])
    (status,) = history(telegram, ALICE_ID).values()
    assert texts(status) == [NOTE, LAST_NOTE, HOST_UNAVAILABLE]


async def test_the_status_message_survives_a_restart(settings, platform, telegram, chevereto):
    """The bot stops after the note; the next process answers in that same message."""
    chevereto.close_next()
    async with running(settings, platform, tuning=PAUSED) as core:
        await post(core, telegram, "private")
        await eventually(lambda: waiting_to_retry(core.store))
    async with running(settings, platform, tuning=FAST) as core:
        await due_now(core.store)
        await telegram.wait_for(lambda m: "/delete/" in (m["text"] or ""), timeout=15)
    (status,) = history(telegram, ALICE_ID).values()
    assert texts(status)[0] == PAUSED_NOTE
    assert status[-1]["method"] == "editMessageText"
    assert "/image/" in texts(status)[-1]
    assert "/delete/" in texts(status)[-1]
    assert status[-1]["preview_disabled"]
    assert len(chevereto.images) == 1
