"""Every field of the upload API on Discord: /upload's description, category and width
options, /category and /width, validated before any request."""

from __future__ import annotations

import pytest

from tests.conftest import KEY
from tests.support.discord_harness import (
    ALICE_ID,
    Harness,
    bot_fixture,  # noqa: F401 - a fixture
    discord_user,
    fake_fixture,  # noqa: F401 - a fixture
)
from tests.support.images import png_of_width


def option(name: str, value: object, kind: int = 3) -> dict:
    return {"name": name, "type": kind, "value": value}


def image_of_width(bot: Harness, width: int) -> dict:
    return bot.fake.add_attachment(
        png_of_width(width), filename="wide.png", content_type="image/png", width=width
    )


async def test_upload_sends_description_category_and_width(bot: Harness) -> None:
    """/upload with description, category and width on an 800-px image: all three reach the
    host as the API names them."""
    await bot.core.store.keys.link(discord_user(ALICE_ID), KEY)
    file = bot.fake.attachment_option("file", image_of_width(bot, 800))
    payload = await bot.slash(
        "upload",
        file,
        option("description", "Two lines\nof text"),
        option("category", 3, kind=4),
        option("width", 640, kind=4),
    )
    await bot.answer_of(payload, "/delete/")
    form = bot.chevereto.upload_requests[-1].form
    assert (form["description"], form["category_id"], form["width"]) == (
        "Two lines\nof text",
        "3",
        "640",
    )


async def test_a_width_over_the_image_s_is_not_sent(bot: Harness) -> None:
    """Discord tells the attachment's width: a 320-px image goes without width=640."""
    await bot.core.store.keys.link(discord_user(ALICE_ID), KEY)
    file = bot.fake.attachment_option("file", image_of_width(bot, 320))
    payload = await bot.slash("upload", file, option("width", 640, kind=4))
    await bot.answer_of(payload, "/delete/")
    assert "width" not in bot.chevereto.upload_requests[-1].form


async def test_category_and_width_defaults_reach_the_host(bot: Harness) -> None:
    """/category 5 and /width 1000 are the user's defaults for the next /upload."""
    await bot.core.store.keys.link(discord_user(ALICE_ID), KEY)
    await bot.answer_of(await bot.slash("category", option("value", "5")), "category 5")
    await bot.answer_of(await bot.slash("width", option("value", "1000")), "1000 px")
    file = bot.fake.attachment_option("file", image_of_width(bot, 1600))
    await bot.answer_of(await bot.slash("upload", file), "/delete/")
    form = bot.chevereto.upload_requests[-1].form
    assert (form["category_id"], form["width"]) == ("5", "1000")


@pytest.mark.parametrize(
    ("command", "value", "sentence"),
    [
        ("width", "-5", "Send /width with a width in pixels"),
        ("width", "99999", "A width can be at most 10,000 pixels."),
        ("category", "abc", "Send /category with the category"),
    ],
)
async def test_garbage_is_refused_ephemerally_and_changes_nothing(
    bot: Harness, command: str, value: str, sentence: str
) -> None:
    """A bad value gets the sentence, for the user alone; the defaults stay unset."""
    payload = await bot.slash(command, option("value", value))
    answer = await bot.answer_of(payload, sentence.split("'", maxsplit=1)[0])
    assert answer.json["data"]["flags"] == 64
    prefs = await bot.core.store.prefs.of(discord_user(ALICE_ID))
    assert (prefs.width, prefs.category_id) == (None, None)
    assert bot.chevereto.upload_requests == []
