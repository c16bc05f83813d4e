"""Discord messages end to end: /mirror, mirrored channels and DMs, against the fakes."""

from __future__ import annotations

from bot.chevereto.probe import probe_png
from tests.conftest import ADMIN_KEY, KEY
from tests.support.discord_harness import (
    ALICE_ID,
    BOB_ID,
    CHANNEL,
    OWNER_ID,
    SUPPRESS_EMBEDS,
    Harness,
    bot_fixture,  # noqa: F401 - a fixture
    buttons,
    discord_user,
    fake_fixture,  # noqa: F401 - a fixture
    guild_chat,
    posted_to,
)
from tests.support.jobs import unfinished_jobs

MB = 1024 * 1024
ON = {"name": "state", "type": 3, "value": "on"}


async def mirror_channel(bot: Harness) -> None:
    """Mirroring on in CHANNEL, turned on by the owner, whose key is linked."""
    await bot.core.store.keys.link(discord_user(OWNER_ID), ADMIN_KEY)
    await bot.core.store.chats.set_mirror(guild_chat(), True, discord_user(OWNER_ID))


async def test_mirror_is_refused_for_a_member_without_manage_server(bot: Harness) -> None:
    """A member without Manage Server is told only admins may, and mirroring stays off."""
    payload = await bot.slash("mirror", ON, user_id=BOB_ID)
    await bot.answer_of(payload, "Only the chat's admins")
    assert not (await bot.core.store.chats.of(guild_chat())).mirror


async def test_mirror_is_turned_on_by_an_admin(bot: Harness) -> None:
    """The server owner turns mirroring on; the answer is public and names whose key is used."""
    await bot.core.store.keys.link(discord_user(OWNER_ID), ADMIN_KEY)
    payload = await bot.slash("mirror", ON, user_id=OWNER_ID)
    answer = await bot.answer_of(payload, "Mirroring is on")
    assert not answer.json["data"].get("flags")
    assert "Message Content intent" in answer.json["data"]["content"]
    assert (await bot.core.store.chats.of(guild_chat())).mirror


async def test_a_mirrored_post_gets_one_summary_and_a_private_delete_link(bot: Harness) -> None:
    """Two images in one post: one summary replying to it; the delete links by DM, unembedded."""
    await mirror_channel(bot)
    post = await bot.post(CHANNEL, bot.image("a.png"), bot.image("b.png"), user_id=BOB_ID)
    summary = await bot.answered(posted_to(CHANNEL, "2 of 2 files uploaded"))
    dm = await bot.answered(lambda r: r.method == "POST" and "/delete/" in str(r.json))
    assert summary.json["message_reference"]["message_id"] in (post["id"], int(post["id"]))
    assert "/delete/" not in str(summary.json)
    assert summary.json["allowed_mentions"] == {"parse": []}  # no one is pinged
    assert dm.json["flags"] & SUPPRESS_EMBEDS
    assert dm.path != f"/channels/{CHANNEL}/messages"
    assert len([b for b in buttons(dm.json) if b["custom_id"].startswith("del:")]) == 2
    keys = {r.headers["x-api-key"] for r in bot.chevereto.upload_requests}
    assert keys == {ADMIN_KEY}  # the poster linked no key: the admin's is used


async def test_closed_dms_make_the_channel_answer_point_to_history(bot: Harness) -> None:
    """With the poster's DMs closed, the channel hears to use /history; no delete link is posted."""
    await mirror_channel(bot)
    bot.fake.close_dms(BOB_ID)
    await bot.post(CHANNEL, bot.image(), user_id=BOB_ID)
    await bot.answered(posted_to(CHANNEL, "/history"))
    in_channel = [m["content"] for m in bot.sent_by_bot(CHANNEL)]
    assert len(in_channel) == 2
    assert all("/delete/" not in content for content in in_channel)


async def test_a_mirrored_channel_ignores_other_files_and_bots(bot: Harness) -> None:
    """A text file, and an image posted by a bot, get no upload and no answer."""
    await mirror_channel(bot)
    note = bot.fake.add_attachment(b"hi", filename="note.txt", content_type="text/plain")
    await bot.post(CHANNEL, note, user_id=BOB_ID)
    robot = bot.fake.message_create(CHANNEL, bot.fake.bot_user, attachments=[bot.image()])
    await bot.fake.dispatch("MESSAGE_CREATE", robot)
    await bot.post(CHANNEL, bot.image("last.png"), user_id=BOB_ID)
    await bot.answered(posted_to(CHANNEL, "last.png"))
    assert [r.file_name for r in bot.chevereto.upload_requests] == ["last.png"]
    assert len([m for m in bot.sent_by_bot(CHANNEL) if m["id"] != robot["id"]]) == 1


async def test_an_unmirrored_channel_is_left_alone(bot: Harness) -> None:
    """Without mirroring, a channel's images are not uploaded (a DM after them is)."""
    await bot.core.store.keys.link(discord_user(BOB_ID), KEY)
    await bot.post(CHANNEL, bot.image("channel.png"), user_id=BOB_ID)
    dm = bot.fake.snowflake()
    await bot.post(dm, bot.image("dm.png"), user_id=BOB_ID)
    await bot.answered(posted_to(dm, "Short link"))
    assert [r.file_name for r in bot.chevereto.upload_requests] == ["dm.png"]
    assert bot.sent_by_bot(CHANNEL) == []


async def test_a_long_mirrored_upload_shows_a_status_that_becomes_the_answer(bot: Harness) -> None:
    """A file that takes about a second to come from the CDN: once the job has run the status
    wait (half a second here) its progress is a reply in the channel, edited into the answer
    when done."""
    await mirror_channel(bot)
    bot.fake.bandwidth = 1024 * 1024
    data = probe_png() + b"\0" * MB
    await bot.post(CHANNEL, bot.image("big.png", data), user_id=BOB_ID)
    status = await bot.answered(posted_to(CHANNEL, "Uploading…"))
    edit = await bot.answered(
        lambda r: r.method == "PATCH" and "Short link" in str(r.json), timeout=20
    )
    (message,) = bot.sent_by_bot(CHANNEL)
    assert status.method == "POST"
    assert edit.path == f"/channels/{CHANNEL}/messages/{message['id']}"
    assert message["content"].startswith("big.png")


async def test_an_image_sent_by_dm_gets_one_answer_without_embeds(bot: Harness) -> None:
    """An image sent to the bot in a DM: one message there, embeds suppressed, holding the
    links, then the delete link and its Delete button; done within 2 s, no status before it."""
    await bot.core.store.keys.link(discord_user(ALICE_ID), KEY)
    dm = bot.fake.snowflake()
    await bot.post(dm, bot.image(), user_id=ALICE_ID)
    answer = await bot.answered(posted_to(dm, "/delete/"))
    (image,) = bot.chevereto.images.values()
    content = answer.json["content"]
    assert answer.json["flags"] == SUPPRESS_EMBEDS
    assert content.index(f"{bot.chevereto.url}/{image.id}") < content.index(image.delete_hash)
    assert "Short link" in str(answer.json)
    assert [b["custom_id"][:4] for b in buttons(answer.json) if "custom_id" in b] == ["del:"]
    assert [r for r in bot.fake.requests if r.path.startswith(f"/channels/{dm}/")] == [answer]


async def test_a_dm_without_media_says_so(bot: Harness) -> None:
    """A file that is no image or video, sent by DM, gets one sentence and no job."""
    dm = bot.fake.snowflake()
    note = bot.fake.add_attachment(b"hi", filename="note.txt", content_type="text/plain")
    await bot.post(dm, note, user_id=ALICE_ID)
    await bot.answered(posted_to(dm, "not an image or a video"))
    assert await unfinished_jobs(bot.core.store) == 0


async def test_an_expired_attachment_url_is_fetched_again_from_its_message(bot: Harness) -> None:
    """When the CDN no longer serves an attachment's URL, the message is fetched for a fresh one."""
    await bot.core.store.keys.link(discord_user(ALICE_ID), KEY)
    dm = bot.fake.snowflake()
    message = bot.fake.message_create(dm, bot.user(ALICE_ID), attachments=[bot.image()])
    stale = {**message["attachments"][0]}
    stale["url"] = stale["url"].replace("/cat.png?", "/expired.png?")
    await bot.fake.dispatch("MESSAGE_CREATE", {**message, "attachments": [stale]})
    await bot.answered(posted_to(dm, "Short link"))
    fetched = [r.path for r in bot.fake.requests if r.method == "GET" and "/messages/" in r.path]
    assert fetched == [f"/channels/{dm}/messages/{message['id']}"]
    assert [r.status for r in bot.fake.downloads] == [404, 200]
