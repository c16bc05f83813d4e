"""/format on Discord: a choice of forms; the code rides in the answer as a code block, which
Discord shows verbatim and copies whole."""

from __future__ import annotations

from tests.conftest import KEY
from tests.support.discord_harness import (
    ALICE_ID,
    Harness,
    bot_fixture,  # noqa: F401 - a fixture
    discord_user,
    fake_fixture,  # noqa: F401 - a fixture
)


async def test_a_bbcode_answer_carries_the_code_in_a_code_block(bot: Harness) -> None:
    """/format bbcode, then /upload in a guild: the public answer holds the host's BBCode in a
    code block, unescaped; the setting is the user's, kept in the database."""
    await bot.core.store.keys.link(discord_user(ALICE_ID), KEY)
    chosen = await bot.slash("format", {"name": "form", "type": 3, "value": "bbcode"})
    await bot.answer_of(chosen, "BBCode embed code")
    payload = await bot.slash("upload", bot.fake.attachment_option("file", bot.image()))
    answer = await bot.answer_of(payload, "[img]")
    (image,) = bot.chevereto.images.values()
    site = bot.chevereto.url
    code = f"[url={site}/image/{image.id}][img]{site}/images/{image.id}.png[/img][/url]"
    assert f"```\n{code}\n```" in answer.json["content"]
    assert "/delete/" not in answer.json["content"]


async def test_format_offers_every_form_as_a_choice(bot: Harness) -> None:
    """The command Discord registered offers the five forms, so no garbage can be sent."""
    (command,) = [c for c in bot.fake.commands[None] if c["name"] == "format"]
    (option,) = command["options"]
    assert [c["value"] for c in option["choices"]] == [
        "links",
        "direct",
        "markdown",
        "bbcode",
        "html",
    ]
