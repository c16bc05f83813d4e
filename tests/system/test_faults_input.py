"""Fault campaign, what users send: a corrupt image, a zero-byte file, a 10,000-character caption,
control characters and right-to-left text in titles and tags.

Each ends with one clear answer and no job left; the host receives a bounded, clean title
(at most 100 characters, no control characters) and tags without control characters.
"""

from __future__ import annotations

import unicodedata

import pytest

from bot.chevereto.probe import probe_png
from bot.domain import UserRef
from tests.conftest import KEY
from tests.support.discord_harness import ALICE_ID as DISCORD_ALICE_ID
from tests.support.discord_harness import (
    Harness,
    bot_fixture,  # noqa: F401 - a fixture
    discord_user,
    fake_fixture,  # noqa: F401 - a fixture
)
from tests.support.fakes.telegram_api import FakeTelegram
from tests.support.fault_harness import (
    FILE_REFUSED,
    JSON,
    final_texts,
    photo_name,
    running_telegram,
    telegram_settings,
    upload_answer,
)
from tests.support.jobs import unfinished_jobs
from tests.support.waiting import eventually

ALICE_ID = 1001
TITLE_MAX = 100
CONTROLS = "\x00\x07\x08\x1b[31m\t\r\n\x7f\x85"
RTL = "سلام دنیا \u200fשלום עולם"
LONG_CAPTION = ("A very long caption, " * 500)[:9_990] + " #sunset"


@pytest.fixture
async def telegram():
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def bot_core(telegram, chevereto, tmp_path, database):
    settings = telegram_settings(telegram, chevereto.url, tmp_path / "data", database)
    async with running_telegram(settings) as core:
        await core.store.keys.link(UserRef("telegram", str(ALICE_ID)), KEY)
        yield core


def send(telegram: FakeTelegram, data: bytes, **kwargs: object) -> JSON:
    """Alice sends ``data`` in her private chat: a photo unless ``document=True``."""
    alice = telegram.user(ALICE_ID)
    as_document = kwargs.pop("document", False)
    ref = telegram.add_file(data, file_name="empty.png", mime_type="image/png")
    media = {"document": ref} if as_document else {"photo": ref}
    update = telegram.message_update(telegram.private_chat(alice), alice, **media, **kwargs)
    telegram.push_update(update)
    return update["message"]


async def finished(core, telegram: FakeTelegram, needle: str) -> list[str]:
    """Alice's messages once one holds ``needle`` and no job is left."""
    await telegram.wait_for(lambda m: needle in (m["text"] or ""), timeout=20)
    await eventually(lambda: _no_unfinished_jobs(core))
    return final_texts(telegram, ALICE_ID)


async def _no_unfinished_jobs(core) -> bool:
    return await unfinished_jobs(core.store) == 0


def is_clean(text: str) -> bool:
    return not any(unicodedata.category(c) == "Cc" for c in text)


async def test_a_corrupt_image_is_refused_once(bot_core, telegram, chevereto):
    """Bytes that are no image: the host's "Invalid image" becomes one sentence, not retried."""
    send(telegram, b"\x00 not an image, whatever the name says " * 50)
    assert await finished(bot_core, telegram, "refused") == [FILE_REFUSED]
    assert len(chevereto.upload_requests) == 1
    assert chevereto.images == {}


async def test_a_zero_byte_file_is_refused_once(bot_core, telegram, chevereto):
    """An empty "image" document is sent as an empty file and refused in one sentence."""
    send(telegram, b"", document=True)
    assert await finished(bot_core, telegram, "refused") == [FILE_REFUSED]
    (request,) = chevereto.upload_requests
    assert request.file_size == 0
    assert chevereto.images == {}


async def test_a_10000_character_caption_becomes_a_bounded_title(bot_core, telegram, chevereto):
    """A 10,000-character caption: uploaded once, with a title of at most 100 characters."""
    message = send(telegram, probe_png(), caption=LONG_CAPTION)
    texts = await finished(bot_core, telegram, "/delete/")
    assert texts == ["\n".join(upload_answer(chevereto, photo_name(message)))]
    form = chevereto.upload_requests[0].form
    assert form["title"] == LONG_CAPTION[:TITLE_MAX].strip()
    assert form["tags"] == "sunset"


async def test_control_characters_and_rtl_in_a_caption_give_a_clean_title(
    bot_core, telegram, chevereto
):
    """Control characters in a caption never reach the host; right-to-left text does, intact.
    The line break among them ends the title: the rest is the description."""
    caption = f"{RTL}{CONTROLS}end #שלום #مرحبا #bad\x07tag"
    send(telegram, probe_png(), caption=caption)
    await finished(bot_core, telegram, "/delete/")
    form = chevereto.upload_requests[0].form
    assert is_clean(form["title"])
    assert form["title"].startswith(RTL)
    assert len(form["title"]) <= TITLE_MAX
    assert is_clean(form["description"])
    assert form["description"] == "end #שלום #مرحبا #bad tag"  # the tag stops at the \x07
    assert form["tags"] == "שלום,مرحبا,bad"


async def test_discord_title_and_tags_options_reach_the_host_bounded_and_clean(
    bot: Harness,
) -> None:
    """/upload's title (10,000 characters with control characters) and tags arrive clean."""
    await bot.core.store.keys.link(discord_user(DISCORD_ALICE_ID), KEY)
    title = {"name": "title", "type": 3, "value": f"{RTL}{CONTROLS}" + "x" * 10_000}
    tags = {"name": "tags", "type": 3, "value": "ok, שלום\x00evil, \x1b[2Jbad\u202e"}
    payload = await bot.slash(
        "upload", bot.fake.attachment_option("file", bot.image()), title, tags
    )
    await bot.answer_of(payload, "/delete/", timeout=20)
    form = bot.chevereto.upload_requests[0].form
    assert is_clean(form["title"])
    assert form["title"].startswith(RTL)
    assert len(form["title"]) <= TITLE_MAX
    assert is_clean(form["tags"])
    assert "שלום" in form["tags"]
    assert len(bot.chevereto.images) == 1
