"""``python -m bot`` with Telegram, checked from outside the process: every SPEC behaviour.

One bot process serves the whole module (it is what an admin runs); each test is
one behaviour, with its own users so that tests do not see each other's answers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from bot.chevereto.probe import probe_png
from tests.conftest import KEY, OTHER_KEY
from tests.support.fakes.chevereto import FakeChevereto
from tests.support.fakes.telegram_api import FakeTelegram
from tests.support.process import BotProcess
from tests.support.telegram_harness import (
    action_buttons,
    assert_delete_links_private,
    url_buttons,
)

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]
TOKEN = "7301234567:AAH-process-test-token-0123456789abcdef"
MB = 1024 * 1024


@dataclass
class Served:
    telegram: FakeTelegram
    chevereto: FakeChevereto
    bot: BotProcess


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def served(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Served]:
    root: Path = tmp_path_factory.mktemp("process")
    async with FakeTelegram(token=TOKEN) as telegram, FakeChevereto() as chevereto:
        chevereto.add_key(KEY, user="alice")
        chevereto.add_key(OTHER_KEY, user="bob")
        env = {
            "CHEVERETO_URL": chevereto.url,
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": telegram.api_url,
            "TELEGRAM_FILE_URL": telegram.file_url,
            "DATA_DIR": str(root / "data"),
            "LOG_LEVEL": "DEBUG",
        }
        async with BotProcess(env, root) as bot:
            await telegram.wait_for_call("getUpdates", timeout=30)
            yield Served(telegram, chevereto, bot)
            assert await bot.stop() == 0
        assert_delete_links_private(telegram)
        assert "Traceback" not in bot.stderr
        assert TOKEN.split(":")[1] not in bot.stderr
        assert KEY not in bot.stderr
        assert OTHER_KEY not in bot.stderr


def to(served: Served, chat_id: int, needle: str):
    return served.telegram.wait_for(
        lambda m: m["chat_id"] == chat_id and needle in (m["text"] or ""), timeout=20
    )


async def link(served: Served, user_id: int, key: str = KEY, language: str = "en") -> dict:
    telegram = served.telegram
    user = telegram.user(user_id, language_code=language, first_name=f"U{user_id}")
    telegram.push_update(
        telegram.message_update(telegram.private_chat(user), user, text=f"/link {key}")
    )
    await to(served, user_id, "chv_…")
    return user


def photo(served: Served, chat: dict, user: dict, **kwargs: object) -> dict:
    ref = served.telegram.add_file(probe_png(), mime_type="image/png")
    update = served.telegram.message_update(chat, user, photo=ref, **kwargs)
    served.telegram.push_update(update)
    return update["message"]


async def test_help_lists_the_commands(served):
    """/start answers with what the bot does and its commands."""
    user = served.telegram.user(2001)
    served.telegram.push_update(
        served.telegram.message_update(served.telegram.private_chat(user), user, text="/start")
    )
    answer = await to(served, 2001, "/mirror")
    assert served.chevereto.url in answer["text"]


async def test_link_checks_and_masks_the_key(served):
    """/link in private proves the key with the host and answers it masked."""
    await link(served, 2002)
    assert any(r.form.get("expiration") == "PT5M" for r in served.chevereto.upload_requests)


async def test_private_photo(served):
    """A photo in private: one message, the links then the delete link, with the links'
    buttons and a Delete button, preview off."""
    user = await link(served, 2003)
    photo(served, served.telegram.private_chat(user), user)
    answer = await to(served, 2003, "/delete/")
    (image,) = [i for i in served.chevereto.images.values() if i.delete_hash in answer["text"]]
    viewer = f"{served.chevereto.url}/image/{image.id}"
    assert answer["text"].index(f"{viewer}\n") < answer["text"].index("/delete/")
    assert viewer in url_buttons(answer)
    assert [data.startswith("del:") for data in action_buttons(answer)] == [True]
    assert answer["preview_disabled"]
    assert [m for m in served.telegram.sent if m["chat_id"] == 2003 and "/image/" in m["text"]] == [
        answer
    ]


async def test_album_is_one_answer(served):
    """Three photos in one album get one summary."""
    user = await link(served, 2004)
    chat = served.telegram.private_chat(user)
    for _ in range(3):
        photo(served, chat, user, media_group_id="process-album")
    await to(served, 2004, "3 of 3")


async def test_oversize_is_refused(served):
    """A 30 MB video is refused naming the 20 MB limit."""
    user = await link(served, 2005)
    telegram = served.telegram
    ref = telegram.add_file(b"\x00\x00\x00\x18ftypmp42" + b"0" * 64, mime_type="video/mp4")
    telegram.push_update(
        telegram.message_update(telegram.private_chat(user), user, video=ref, declared_size=30 * MB)
    )
    await to(served, 2005, "20 MB")


async def test_non_media_is_refused(served):
    """A text in private gets "not an image or a video"."""
    telegram = served.telegram
    user = telegram.user(2006)
    telegram.push_update(telegram.message_update(telegram.private_chat(user), user, text="hi"))
    await to(served, 2006, "not an image or a video")


async def test_link_in_a_group_is_refused_and_deleted(served):
    """/link in a group is deleted and never stored."""
    telegram = served.telegram
    group_id = -1002001
    telegram.set_chat_member(group_id, telegram.bot_id, "administrator")
    user = telegram.user(2007)
    update = telegram.message_update(telegram.group_chat(group_id), user, text=f"/link {KEY}")
    telegram.push_update(update)
    await to(served, group_id, "private chat")
    assert (group_id, update["message"]["message_id"]) in telegram.deleted


async def test_mirrored_group_with_the_admins_key(served):
    """An admin turns mirroring on; a poster without a key uploads with the admin's key."""
    telegram = served.telegram
    group_id = -1002002
    admin = await link(served, 2008, OTHER_KEY)
    telegram.set_chat_member(group_id, telegram.bot_id, "administrator")
    telegram.set_chat_member(group_id, 2008, "administrator")
    group = telegram.group_chat(group_id)
    telegram.push_update(telegram.message_update(group, admin, text="/mirror on"))
    await to(served, group_id, "Mirroring is on")
    poster = telegram.user(2009)
    photo(served, group, poster)
    public = await to(served, group_id, "/image/")
    assert "/delete/" not in public["text"]
    await to(served, 2009, "/delete/")
    assert served.chevereto.upload_requests[-1].headers["x-api-key"] == OTHER_KEY


async def test_member_cannot_mirror(served):
    """A plain member's /mirror on is refused."""
    telegram = served.telegram
    group_id = -1002003
    user = telegram.user(2010)
    telegram.push_update(
        telegram.message_update(telegram.group_chat(group_id), user, text="/mirror on")
    )
    await to(served, group_id, "Only the chat's admins")


async def test_history_and_delete_flow(served):
    """/history lists the delete link; Delete asks, then the host deletes the image."""
    telegram = served.telegram
    user = await link(served, 2011)
    chat = telegram.private_chat(user)
    photo(served, chat, user)
    secret = await to(served, 2011, "/delete/")
    telegram.push_update(telegram.message_update(chat, user, text="/history"))
    await to(served, 2011, "Your last uploads")
    (data,) = action_buttons(secret)
    telegram.push_update(telegram.callback_query(user, secret, data))
    ask = await to(served, 2011, "cannot be undone")
    confirm = ask["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    deleted_before = len(served.chevereto.deleted)
    telegram.push_update(telegram.callback_query(user, ask, confirm))
    await to(served, 2011, "is deleted from the host")
    assert len(served.chevereto.deleted) == deleted_before + 1


async def test_preferences_reach_the_host(served):
    """/expire and /nsfw become the host's expiration and NSFW fields."""
    telegram = served.telegram
    user = await link(served, 2012)
    chat = telegram.private_chat(user)
    telegram.push_update(telegram.message_update(chat, user, text="/expire 3d"))
    await to(served, 2012, "P3D")
    telegram.push_update(telegram.message_update(chat, user, text="/nsfw on"))
    await to(served, 2012, "NSFW")
    photo(served, chat, user, caption="Sunset #sky")
    await to(served, 2012, "Expires")
    form = served.chevereto.upload_requests[-1].form
    assert (form["expiration"], form["nsfw"], form["title"], form["tags"]) == (
        "P3D",
        "1",
        "Sunset",
        "sky",
    )


async def test_chinese_user(served):
    """A zh-hans user is answered in Chinese."""
    telegram = served.telegram
    user = telegram.user(2013, language_code="zh-hans")
    telegram.push_update(telegram.message_update(telegram.private_chat(user), user, text="/unlink"))
    await to(served, 2013, "没有绑定密钥")
