"""Every field of the upload API on Telegram: a caption's description, /category and /width,
validated before any request; the width sent only to shrink an image."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.domain import UserRef
from tests.conftest import KEY
from tests.support.images import png_of_width
from tests.support.telegram_harness import ALICE_ID, all_answered, user_ref
from tests.support.waiting import eventually


@pytest.fixture
async def alice(bot, telegram):
    await bot.store.keys.link(user_ref(ALICE_ID), KEY)
    return telegram.user(ALICE_ID)


async def say(telegram, alice, text: str, expected: str) -> None:
    telegram.push_update(telegram.message_update(telegram.private_chat(alice), alice, text=text))
    await telegram.wait_for(lambda m: expected in (m["text"] or ""))


async def send_photo(bot, telegram, alice, width: int, **kwargs) -> dict:
    """A photo whose largest size is ``width`` px (its bytes say so too); the host's form."""
    before = len(telegram.sent)
    ref = replace(telegram.add_file(png_of_width(width), mime_type="image/png"), width=width)
    update = telegram.message_update(telegram.private_chat(alice), alice, photo=ref, **kwargs)
    telegram.push_update(update)
    await telegram.wait_for(
        lambda m: telegram.sent.index(m) >= before and "/delete/" in (m["text"] or "")
    )
    await eventually(lambda: all_answered(bot))
    return telegram.sent[-1]


async def test_a_two_line_caption_gives_title_and_description(bot, telegram, chevereto, alice):
    """First line the title, the rest the description, hashtags kept there and made tags."""
    await send_photo(bot, telegram, alice, 800, caption="Harbour at dawn\nFog, then sun. #sea")
    form = chevereto.upload_requests[-1].form
    assert form["title"] == "Harbour at dawn"
    assert form["description"] == "Fog, then sun. #sea"
    assert form["tags"] == "sea"


async def test_category_reaches_the_host_and_settings(bot, telegram, chevereto, alice):
    """/category 3, then a photo: category_id=3 is sent; /settings shows it; off clears it."""
    await say(telegram, alice, "/category 3", "category 3")
    await send_photo(bot, telegram, alice, 800)
    assert chevereto.upload_requests[-1].form["category_id"] == "3"
    await say(telegram, alice, "/settings", "Category: 3")
    await say(telegram, alice, "/category off", "no category")
    await send_photo(bot, telegram, alice, 800)
    assert "category_id" not in chevereto.upload_requests[-1].form


async def test_width_is_sent_only_to_shrink_a_wider_image(bot, telegram, chevereto, alice):
    """/width 640: an 800-px photo goes with width=640; a 320-px photo goes without a width (the
    host would refuse it)."""
    await say(telegram, alice, "/width 640", "shrunk to 640 px")
    await send_photo(bot, telegram, alice, 800)
    assert chevereto.upload_requests[-1].form["width"] == "640"
    await send_photo(bot, telegram, alice, 320)
    assert "width" not in chevereto.upload_requests[-1].form
    assert len(chevereto.upload_requests) == 2


async def test_a_width_the_host_refuses_is_dropped_once_and_said(bot, telegram, chevereto, alice):
    """An image sent as a file has no width Telegram tells: the width is sent, the host refuses
    it (610, narrower image), and the bot uploads it again without, saying so."""
    await say(telegram, alice, "/width 640", "shrunk to 640 px")
    ref = telegram.add_file(png_of_width(320), mime_type="image/png", file_name="small.png")
    telegram.push_update(telegram.message_update(telegram.private_chat(alice), alice, document=ref))
    answer = await telegram.wait_for(lambda m: "/delete/" in (m["text"] or ""))
    first, second = chevereto.upload_requests
    assert first.form["width"] == "640"
    assert "width" not in second.form
    assert "could not shrink it to 640 px" in answer["text"]
    assert len(chevereto.images) == 1


@pytest.mark.parametrize(
    "case",
    [
        ("/width -5", "Send /width with a width in pixels"),
        ("/width 99999", "A width can be at most 10,000 pixels."),
        ("/width 12.5", "Send /width with a width in pixels"),
        ("/category abc", "Send /category with the category's number"),
        ("/category 0", "Send /category with the category's number"),
    ],
)
async def test_garbage_gets_the_sentence_and_changes_nothing(bot, telegram, chevereto, alice, case):
    """A bad value is refused in one sentence before any request; the defaults stay."""
    command, sentence = case
    await say(telegram, alice, "/width 640", "shrunk to 640 px")
    await say(telegram, alice, "/category 7", "category 7")
    await say(telegram, alice, command, sentence)
    prefs = await bot.store.prefs.of(UserRef("telegram", str(ALICE_ID)))
    assert (prefs.width, prefs.category_id) == (640, 7)
    assert chevereto.upload_requests == []
