"""``python -m bot`` with Discord, checked from outside the process: every SPEC behaviour.

One bot process serves the module, connected to the fake gateway; each test is one
behaviour, with its own user so that tests do not see each other's answers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.conftest import ADMIN_KEY, KEY, OTHER_KEY
from tests.support.discord_harness import (
    CHANNEL,
    EPHEMERAL,
    GUILD,
    OWNER_ID,
    SUPPRESS_EMBEDS,
    TOKEN,
    Harness,
    buttons,
)
from tests.support.fakes.chevereto import FakeChevereto
from tests.support.fakes.discord_api import FakeDiscord, RecordedRequest
from tests.support.process import BotProcess
from tests.support.waiting import eventually

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]
MB = 1024 * 1024
USERS = [(4000 + n) << 22 for n in range(12)]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def bot(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    root: Path = tmp_path_factory.mktemp("discord-process")
    async with FakeDiscord(token=TOKEN) as fake, FakeChevereto() as chevereto:
        for key, owner in ((KEY, "alice"), (ADMIN_KEY, "admin"), (OTHER_KEY, "bob")):
            chevereto.add_key(key, user=owner)
        members = [fake.user(i, name=f"user{i % 1000}") for i in (OWNER_ID, *USERS)]
        fake.add_guild(GUILD, owner_id=OWNER_ID, channels=[CHANNEL], members=members)
        env = {
            "CHEVERETO_URL": chevereto.url,
            "DISCORD_BOT_TOKEN": TOKEN,
            "DISCORD_API_URL": fake.api_url,
            "DATA_DIR": str(root / "data"),
            "LOG_LEVEL": "DEBUG",
        }
        async with BotProcess(env, root) as process:
            await eventually(lambda: len(fake.identifies) == 1, within=30)
            await fake.wait_for(lambda r: r.method == "PUT" and "/commands" in r.path)
            yield Harness(fake, chevereto, None, None)  # type: ignore[arg-type]
            assert await process.stop() == 0
        assert fake.errors == []
        _assert_delete_links_private(fake)
        for secret in (TOKEN, KEY, ADMIN_KEY, OTHER_KEY):
            assert secret not in process.stderr
        assert "Traceback" not in process.stderr


def _assert_delete_links_private(fake: FakeDiscord) -> None:
    """A delete link only ever went ephemerally or by DM, always with embeds suppressed."""
    for request in fake.requests:
        body = request.json if isinstance(request.json, dict) else {}
        data = body.get("data", body) if isinstance(body.get("data"), dict) else body
        if "/delete/" not in str(data.get("content", "")):
            continue
        flags = int(data.get("flags") or 0)
        assert flags & SUPPRESS_EMBEDS, request.path
        assert flags & EPHEMERAL or f"/channels/{CHANNEL}/" not in request.path, request.path


async def link(bot: Harness, user_id: int, key: str = KEY) -> None:
    payload = await bot.slash("link", {"name": "api_key", "type": 3, "value": key}, user_id=user_id)
    await bot.answer_of(payload, "is linked", timeout=20)


async def upload(
    bot: Harness, user_id: int, attachment: dict, *options: dict, **extra: object
) -> dict:
    file = bot.fake.attachment_option("file", attachment)
    return await bot.slash("upload", file, *options, user_id=user_id, **extra)


async def test_help(bot):
    """/help lists the commands, /upload as Discord has it."""
    payload = await bot.slash("help", user_id=USERS[0])
    await bot.answer_of(payload, "Upload to Chevereto")


async def test_link_is_ephemeral_and_masked(bot):
    """/link answers only the user, with the key masked, and no request holds the key."""
    payload = await bot.slash(
        "link", {"name": "api_key", "type": 3, "value": KEY}, user_id=USERS[1]
    )
    done = await bot.answer_of(payload, "is linked", timeout=20)
    assert "chv\\_…kkkk" in done.json["content"]
    assert all(KEY not in f"{r.path}{r.query}{r.json}" for r in bot.fake.requests)


async def test_upload_in_a_guild(bot):
    """/upload: the public answer has both links as buttons; the delete link is ephemeral."""
    await link(bot, USERS[2])
    payload = await upload(bot, USERS[2], bot.image())
    answer = await bot.answer_of(payload, "Short link", timeout=20)
    assert [b["style"] for b in buttons(answer.json)] == [5, 5]
    secret = await bot.answer_of(payload, "/delete/")
    assert secret.json["flags"] == EPHEMERAL | SUPPRESS_EMBEDS


async def test_upload_in_a_dm(bot):
    """/upload in a DM is answered there."""
    await link(bot, USERS[3])
    payload = await upload(
        bot, USERS[3], bot.image(), channel_id=bot.fake.snowflake(), guild_id=None
    )
    await bot.answer_of(payload, "/delete/", timeout=20)


async def test_options_reach_the_host(bot):
    """Expiration and NSFW given with /upload reach the host."""
    await link(bot, USERS[4])
    expiration = {"name": "expiration", "type": 3, "value": "P2D"}
    nsfw = {"name": "nsfw", "type": 5, "value": True}
    payload = await upload(bot, USERS[4], bot.image("opts.png"), expiration, nsfw)
    await bot.answer_of(payload, "Expires", timeout=20)
    form = next(r.form for r in bot.chevereto.upload_requests if r.file_name == "opts.png")
    assert (form["expiration"], form["nsfw"]) == ("P2D", "1")


async def test_oversize_is_refused(bot):
    """An attachment over 50 MB is refused ephemerally, naming the limit, never downloaded."""
    big = bot.fake.add_attachment(
        b"\0" * 16, filename="huge.mp4", content_type="video/mp4", declared_size=60 * MB
    )
    payload = await upload(bot, USERS[5], big)
    answer = await bot.answer_of(payload, "50 MB")
    assert answer.json["data"]["flags"] == EPHEMERAL
    assert all("huge.mp4" not in r.path for r in bot.fake.downloads)


async def test_non_media_is_refused(bot):
    """A text file given to /upload is "not an image or a video"."""
    text = bot.fake.add_attachment(b"hello", filename="a.txt", content_type="text/plain")
    payload = await upload(bot, USERS[5], text)
    await bot.answer_of(payload, "not an image or a video")


async def test_mirror_needs_manage_server(bot):
    """A member without Manage Server cannot turn mirroring on."""
    payload = await bot.slash(
        "mirror", {"name": "state", "type": 3, "value": "on"}, user_id=USERS[6]
    )
    await bot.answer_of(payload, "Only the chat's admins")


async def test_mirrored_post(bot):
    """The owner turns mirroring on; a post's images get one channel answer and a DM."""
    await link(bot, OWNER_ID, ADMIN_KEY)
    payload = await bot.slash(
        "mirror", {"name": "state", "type": 3, "value": "on"}, user_id=OWNER_ID
    )
    await bot.answer_of(payload, "Mirroring is on")
    await bot.post(CHANNEL, bot.image("m1.png"), bot.image("m2.png"), user_id=USERS[7])

    def summary(request: RecordedRequest) -> bool:
        return request.path.startswith(f"/channels/{CHANNEL}/messages") and "2 of 2" in str(
            request.json
        )

    answer = await bot.answered(summary, timeout=20)
    assert "/delete/" not in str(answer.json)
    dm = await bot.answered(lambda r: "m1.png" in str(r.json) and "/delete/" in str(r.json))
    assert dm.json["flags"] & SUPPRESS_EMBEDS


async def test_context_menu(bot):
    """ "Upload to Chevereto" on a message uploads its images."""
    await link(bot, USERS[8])
    message = bot.fake.message_create(
        CHANNEL, bot.user(USERS[9]), attachments=[bot.image("menu.png")]
    )
    payload = bot.fake.message_command_interaction(
        "Upload to Chevereto", message, user=bot.user(USERS[8])
    )
    await bot.fake.dispatch("INTERACTION_CREATE", payload)
    await bot.answer_of(payload, "Short link", timeout=20)


async def test_delete_button(bot):
    """Delete asks first, then the host deletes the image."""
    await link(bot, USERS[10])
    payload = await upload(bot, USERS[10], bot.image("gone.png"))
    await bot.answer_of(payload, "/delete/", timeout=20)
    secret = next(
        m
        for m in bot.fake.messages.values()
        if "/delete/" in m["content"] and "gone.png" in m["content"]
    )
    ask = await bot.click(buttons(secret)[0]["custom_id"], secret, user_id=USERS[10])
    question = await bot.answer_of(ask, "cannot be undone")
    confirm = next(b for b in buttons(question.json) if b["custom_id"].startswith("delok:"))
    asked = next(
        m
        for m in bot.fake.messages.values()
        if "cannot be undone" in m["content"] and "gone.png" in m["content"]
    )
    deleted = len(bot.chevereto.deleted)
    await bot.answer_of(
        await bot.click(confirm["custom_id"], asked, user_id=USERS[10]), "is deleted"
    )
    assert len(bot.chevereto.deleted) == deleted + 1


async def test_chinese(bot):
    """A zh-CN client is answered in Chinese."""
    payload = await bot.slash("settings", user_id=USERS[11], locale="zh-CN")
    await bot.answer_of(payload, "密钥")
