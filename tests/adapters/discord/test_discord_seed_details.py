"""The seed's last details on Discord: /filedate and /upload's ``file_date`` (``use_file_date``
only when on), and the line said once a day, privately, to a user whose upload went up with
the bot's shared key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import KEY, OTHER_KEY
from tests.support.discord_harness import (
    ALICE_ID,
    BOB_ID,
    Harness,
    bot_fixture,  # noqa: F401 - a fixture
    contents,
    discord_user,
    fake_fixture,  # noqa: F401 - a fixture
    harnessed,
    settings_for,
)
from tests.support.fakes.chevereto import FakeChevereto
from tests.support.fakes.discord_api import FakeDiscord

SHARED = "This went up with the bot's shared key, so it is not in your account on the site."
SHARED_ZH = "此文件是用机器人的共享密钥上传的"


def switch(state: str) -> dict:
    return {"name": "state", "type": 3, "value": state}


async def upload(bot: Harness, *options: dict, user_id: int = ALICE_ID) -> dict:
    """/upload of a fresh image with ``options``; returns the interaction once answered."""
    file = bot.fake.attachment_option("file", bot.image())
    payload = await bot.slash("upload", file, *options, user_id=user_id)
    await bot.answer_of(payload, "/delete/")
    return payload


async def test_file_date_only_when_on_or_asked_for(bot: Harness) -> None:
    """Off: nothing sent; /filedate on: ``use_file_date=1`` (its answer names the site admin's
    key, and no Telegram advice); off again: nothing; the /upload option alone: sent."""
    await bot.core.store.keys.link(discord_user(ALICE_ID), KEY)
    await upload(bot)
    on = await bot.slash("filedate", switch("on"))
    answer = await bot.answer_of(on, "Exif")
    assert "only when your key is a site admin's" in str(answer.json)
    assert "Telegram" not in str(answer.json)
    await upload(bot)
    off = await bot.slash("filedate", switch("off"))
    await bot.answer_of(off, "dated by the upload")
    await upload(bot)
    await upload(bot, {"name": "file_date", "type": 5, "value": True})
    sent = [r.form.get("use_file_date") for r in bot.chevereto.upload_requests]
    assert sent == [None, "1", None, "1"]


@pytest.fixture(name="shared")
async def shared_fixture(
    fake: FakeDiscord, chevereto: FakeChevereto, tmp_path: Path
) -> AsyncIterator[Harness]:
    """The bot with a shared key (Bob's account's) for users who linked none."""
    settings = settings_for(chevereto, tmp_path / "data", default_api_key=OTHER_KEY)
    async with harnessed(fake, chevereto, settings) as bot:
        yield bot


def said_to(bot: Harness, payload: dict, text: str) -> list[str]:
    """The interaction's messages (response and follow-ups) holding ``text``, as sent."""
    return [
        str(r.json)
        for r in bot.fake.requests
        if payload["token"] in r.path and r.method in ("POST", "PATCH") and text in str(r.json)
    ]


async def test_the_shared_key_line_goes_once_with_the_delete_link(shared: Harness) -> None:
    """Alice, no key: her first /upload's ephemeral delete-link message says the shared key
    was used and how /link keeps uploads in her account; the channel's answer never does;
    her second upload that day says nothing of it. Bob, with a key of his own, never hears it;
    Chinese users read it in Chinese."""
    first = await upload(shared)
    second = await upload(shared)
    await shared.core.store.keys.link(discord_user(BOB_ID), KEY)
    bob = await upload(shared, user_id=BOB_ID)
    assert len(said_to(shared, first, SHARED)) == 1
    (secret,) = [
        r for r in shared.fake.requests if first["token"] in r.path and SHARED in str(r.json)
    ]
    assert "/delete/" in secret.json["content"]
    public = [r for r in shared.fake.requests if first["token"] in r.path and r.method == "PATCH"]
    assert SHARED not in contents(public)
    assert said_to(shared, second, "/link") == []
    assert said_to(shared, bob, "/link") == []


async def test_the_shared_key_line_in_chinese(shared: Harness) -> None:
    file = shared.fake.attachment_option("file", shared.image())
    payload = await shared.slash("upload", file, locale="zh-CN")
    await shared.answer_of(payload, SHARED_ZH)
