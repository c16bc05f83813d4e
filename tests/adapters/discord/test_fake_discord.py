"""The fake Discord is faithful enough for the real discord.py to shard, chat and answer on it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import discord
import pytest

from tests.support.discord_client import (
    CHANNEL,
    GUILD_A,
    GUILD_B,
    USER,
    Bot,
    bot_fixture,  # noqa: F401 - a fixture
    fake_fixture,  # noqa: F401 - a fixture
    running,
)
from tests.support.fakes.discord_api import FakeDiscord

WEBHOOK_POST = r"^/webhooks/\d+/[^/]+$"


class Confirm(discord.ui.View):
    """A persistent view with one button that reports who clicked it."""

    def __init__(self) -> None:
        super().__init__(timeout=None)
        self.clicked: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    @discord.ui.button(label="OK", custom_id="confirm:ok")
    async def ok(
        self, interaction: discord.Interaction, button: discord.ui.Button[Confirm]
    ) -> None:
        await interaction.response.send_message("clicked", ephemeral=True)
        self.clicked.set_result(interaction.user.id)


def alice(fake: FakeDiscord) -> dict[str, Any]:
    return fake.user(USER, name="alice")


@pytest.mark.parametrize("fake", [2], indirect=True)
async def test_two_shards_from_gateway_bot_identify_and_become_ready(
    fake: FakeDiscord, bot: Bot
) -> None:
    """With /gateway/bot saying 2 shards, both IDENTIFY and each guild arrives on its own shard."""
    assert bot.shard_count == 2
    assert sorted(fake.identifies) == [(0, 2, bot.intents.value), (1, 2, bot.intents.value)]
    assert {guild.id: guild.shard_id for guild in bot.guilds} == {GUILD_A: 0, GUILD_B: 1}
    guild = bot.get_guild(GUILD_A)
    assert guild is not None
    assert guild.get_channel(CHANNEL) is not None


async def test_message_attachment_reaches_on_message_and_downloads(
    fake: FakeDiscord, bot: Bot, tmp_path: Path
) -> None:
    """A MESSAGE_CREATE with an attachment reaches on_message and save() fetches it from the CDN."""
    image = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
    attachment = fake.add_attachment(image, filename="cat photo.png", content_type="image/png")
    sent = fake.message_create(
        CHANNEL, alice(fake), content="look", attachments=[attachment], guild_id=GUILD_A
    )
    assert await fake.dispatch("MESSAGE_CREATE", sent)
    message = await asyncio.wait_for(bot.seen.get(), timeout=5)
    assert (message.content, message.author.id, message.guild) == (
        "look",
        USER,
        bot.get_guild(GUILD_A),
    )
    target = tmp_path / "cat.png"
    await message.attachments[0].save(target)
    assert target.read_bytes() == image
    assert [(d.status, d.headers.get("Authorization")) for d in fake.downloads] == [(200, None)]


async def test_guild_message_content_is_blank_without_the_intent(fake: FakeDiscord) -> None:
    """Without MESSAGE_CONTENT, a guild message arrives with no content and no attachments."""
    attachment = fake.add_attachment(b"x", filename="a.png", content_type="image/png")
    sent = fake.message_create(
        CHANNEL, alice(fake), content="secret", attachments=[attachment], guild_id=GUILD_A
    )
    async with running(Bot(message_content=False)) as client:
        await fake.dispatch("MESSAGE_CREATE", sent)
        message = await asyncio.wait_for(client.seen.get(), timeout=5)
    assert (message.content, message.attachments) == ("", [])


async def test_slash_command_defers_follows_up_and_edits(fake: FakeDiscord, bot: Bot) -> None:
    """A synced command with an Attachment option runs; defer, follow-up and edit are recorded."""
    done: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    @bot.tree.command(name="upload", description="Upload an image")
    async def upload(interaction: discord.Interaction, image: discord.Attachment) -> None:
        try:
            await interaction.response.defer(ephemeral=True)
            data = await image.read()
            await interaction.followup.send("hi", ephemeral=True, suppress_embeds=True)
            await interaction.edit_original_response(content=f"got {len(data)} bytes")
        except Exception as exc:  # the test reports it instead of discord.py logging it
            done.set_exception(exc)
        else:
            done.set_result(data)

    synced = await bot.tree.sync()
    assert [command.name for command in synced] == ["upload"]
    assert fake.commands[None][0]["options"][0]["type"] == 11
    attachment = fake.add_attachment(b"abc", filename="a.png", content_type="image/png")
    option = fake.attachment_option("image", attachment)
    payload = fake.slash_interaction(
        "upload", user=alice(fake), channel_id=CHANNEL, guild_id=GUILD_A, options=[option]
    )
    await fake.dispatch("INTERACTION_CREATE", payload)
    assert await asyncio.wait_for(done, timeout=5) == b"abc"
    callback = await fake.wait_for(lambda r: r.path.endswith("/callback"))
    followup = await fake.wait_for(lambda r: r.method == "POST" and r.path.startswith("/webhooks/"))
    edit = await fake.wait_for(lambda r: r.method == "PATCH" and r.path.endswith("/@original"))
    assert callback.json == {"type": 5, "data": {"flags": 64}}
    assert (followup.json["content"], followup.json["flags"], followup.query["wait"]) == (
        "hi",
        68,
        "1",
    )
    assert edit.json["content"] == "got 3 bytes"
    assert all("Authorization" not in r.headers for r in (callback, followup, edit))


async def test_persistent_view_button_receives_component_interaction(
    fake: FakeDiscord, bot: Bot
) -> None:
    """A button of a timeout-less view registered with add_view gets the click and answers it."""
    view = Confirm()
    bot.add_view(view)
    button = {"type": 2, "style": 1, "label": "OK", "custom_id": "confirm:ok"}
    message = fake.message_create(
        CHANNEL,
        fake.bot_user,
        content="sure?",
        guild_id=GUILD_A,
        components=[{"type": 1, "components": [button]}],
    )
    payload = fake.component_interaction("confirm:ok", user=alice(fake), message=message)
    await fake.dispatch("INTERACTION_CREATE", payload)
    assert await asyncio.wait_for(view.clicked, timeout=5) == USER
    callback = await fake.wait_for(lambda r: r.path.endswith("/callback"))
    assert callback.json["type"] == 4
    assert callback.json["data"]["flags"] == 64


async def test_dm_to_user_with_closed_dms_raises_forbidden(fake: FakeDiscord, bot: Bot) -> None:
    """Sending to a user whose DMs are closed opens the DM, then raises Forbidden with 50007."""
    fake.close_dms(USER)
    user = await bot.fetch_user(USER)
    with pytest.raises(discord.Forbidden) as caught:
        await user.send("hello")
    assert caught.value.code == 50007
    assert [r.json for r in fake.requests if r.path == "/users/@me/channels"] == [
        {"recipient_id": USER}
    ]


async def test_rate_limited_followup_is_retried_then_succeeds(fake: FakeDiscord, bot: Bot) -> None:
    """A 429 on a follow-up makes discord.py wait retry_after and send it again."""
    done: asyncio.Future[discord.WebhookMessage] = asyncio.get_running_loop().create_future()

    @bot.tree.command(name="ping", description="Ping")
    async def ping(interaction: discord.Interaction) -> None:
        try:
            await interaction.response.defer()
            done.set_result(await interaction.followup.send("pong", wait=True))
        except Exception as exc:  # the test reports it instead of discord.py logging it
            done.set_exception(exc)

    await bot.tree.sync()
    fake.fail("POST", WEBHOOK_POST, status=429, retry_after=0.2)
    payload = fake.slash_interaction("ping", user=alice(fake), channel_id=CHANNEL, guild_id=GUILD_A)
    await fake.dispatch("INTERACTION_CREATE", payload)
    message = await asyncio.wait_for(done, timeout=5)
    attempts = [r for r in fake.requests if r.method == "POST" and r.path.startswith("/webhooks/")]
    assert [r.status for r in attempts] == [429, 200]
    assert fake.messages[message.id]["content"] == "pong"
