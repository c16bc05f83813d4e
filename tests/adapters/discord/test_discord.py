"""The Discord adapter end to end: the real discord.py against the fake Discord and Chevereto."""

from __future__ import annotations

from bot.chevereto.probe import probe_png
from tests.conftest import KEY
from tests.support.discord_harness import (
    ALICE_ID,
    BOB_ID,
    CHANNEL,
    EPHEMERAL,
    SUPPRESS_EMBEDS,
    Harness,
    bot_fixture,  # noqa: F401 - a fixture
    buttons,
    contents,
    discord_user,
    fake_fixture,  # noqa: F401 - a fixture
)
from tests.support.jobs import unfinished_jobs

MB = 1024 * 1024


async def link_alice(bot: Harness) -> None:
    await bot.core.store.keys.link(discord_user(ALICE_ID), KEY)


async def upload(bot: Harness, attachment: dict, *options: dict, **extra: object) -> dict:
    file = bot.fake.attachment_option("file", attachment)
    return await bot.slash("upload", file, *options, **extra)


async def test_upload_in_a_guild_answers_with_links_and_buttons(bot: Harness) -> None:
    """/upload defers publicly; the answer then shows the viewer and short URLs, also as buttons."""
    await link_alice(bot)
    payload = await upload(bot, bot.image())
    answer = await bot.answer_of(payload, "Short link")
    (image,) = bot.chevereto.images.values()
    viewer, short = f"{bot.chevereto.url}/image/{image.id}", f"{bot.chevereto.url}/{image.id}"
    callback = await bot.answer_of(payload, "'type': 5")
    assert callback.json == {"type": 5}
    assert answer.method == "PATCH"
    assert viewer in answer.json["content"]
    assert short in answer.json["content"]
    assert [(b["style"], b["url"]) for b in buttons(answer.json)] == [(5, viewer), (5, short)]
    assert "/delete/" not in answer.json["content"]


async def test_upload_sends_the_delete_link_in_an_ephemeral_follow_up(bot: Harness) -> None:
    """The delete link comes only in an ephemeral follow-up without embeds, with a Delete button."""
    await link_alice(bot)
    payload = await upload(bot, bot.image())
    secret = await bot.answer_of(payload, "/delete/")
    (image,) = bot.chevereto.images.values()
    assert secret.method == "POST"
    assert secret.json["flags"] == EPHEMERAL | SUPPRESS_EMBEDS
    assert image.delete_hash in secret.json["content"]
    assert buttons(secret.json)[0]["custom_id"].startswith("del:")
    public = [r for r in bot.fake.requests if payload["token"] in r.path and r.method == "PATCH"]
    assert "/delete/" not in contents(public)


async def test_upload_in_a_dm_answers_in_one_message_without_embeds(bot: Harness) -> None:
    """/upload in a DM gets one ephemeral answer, embeds suppressed: the links, then the delete
    link and its Delete button. The deferred response is deleted, never edited into an answer
    that holds a delete link."""
    await link_alice(bot)
    dm = bot.fake.snowflake()
    payload = await upload(bot, bot.image(), channel_id=dm, guild_id=None)
    answer = await bot.answer_of(payload, "/delete/")
    deleted = await bot.answered(lambda r: r.method == "DELETE" and payload["token"] in r.path)
    (image,) = bot.chevereto.images.values()
    content = answer.json["content"]
    assert "guild_id" not in payload
    assert answer.method == "POST"
    assert answer.json["flags"] == EPHEMERAL | SUPPRESS_EMBEDS
    assert content.index(f"{bot.chevereto.url}/{image.id}") < content.index(image.delete_hash)
    assert [b["url"] for b in buttons(answer.json) if "url" in b] == [
        f"{bot.chevereto.url}/image/{image.id}",
        f"{bot.chevereto.url}/{image.id}",
    ]
    assert [b["custom_id"][:4] for b in buttons(answer.json) if "custom_id" in b] == ["del:"]
    webhook = [r for r in bot.fake.requests if r.path.startswith("/webhooks/")]
    assert [r for r in webhook if r.method in ("POST", "PATCH")] == [answer]
    assert deleted.status == 204
    in_dm = [m for m in bot.fake.messages.values() if m["channel_id"] == str(dm)]
    assert [m["content"] for m in in_dm if m["author"]["id"] == str(bot.fake.bot_id)] == [content]


async def test_link_is_ephemeral_and_the_key_never_leaves(bot: Harness) -> None:
    """/link answers ephemerally with the key masked; no request to Discord ever holds the key."""
    payload = await bot.slash("link", {"name": "api_key", "type": 3, "value": KEY})
    done = await bot.answer_of(payload, "is linked")
    settings = await bot.slash("settings")
    shown = await bot.answer_of(settings, "Key:")
    callback = await bot.answer_of(payload, "'type': 5")
    assert callback.json["data"]["flags"] == EPHEMERAL
    assert "chv\\_…kkkk" in done.json["content"]  # the markdown-escaped chv_…kkkk
    assert shown.json["data"]["flags"] == EPHEMERAL
    assert "chv\\_…kkkk" in shown.json["data"]["content"]
    assert await bot.core.store.keys.of(discord_user(ALICE_ID)) == KEY
    assert all(KEY not in f"{r.path}{r.query}{r.json}" for r in bot.fake.requests)


async def test_expiration_and_nsfw_reach_the_host(bot: Harness) -> None:
    """The expiration and NSFW options of /upload are what the host receives."""
    await link_alice(bot)
    expiration = {"name": "expiration", "type": 3, "value": "P1D"}
    nsfw = {"name": "nsfw", "type": 5, "value": True}
    payload = await upload(bot, bot.image(), expiration, nsfw)
    await bot.answer_of(payload, "Expires")
    (request,) = bot.chevereto.upload_requests
    assert (request.form["expiration"], request.form["nsfw"]) == ("P1D", "1")


async def test_title_tags_and_album_reach_the_host(bot: Harness) -> None:
    """Title, comma or space separated tags and a pasted album URL reach the host."""
    await link_alice(bot)
    bot.chevereto.add_album("alice", "4c")
    title = {"name": "title", "type": 3, "value": "My cat"}
    tags = {"name": "tags", "type": 3, "value": "cute, #cat kitten"}
    album = {"name": "album", "type": 3, "value": f"{bot.chevereto.url}/album/pets.4c"}
    payload = await upload(bot, bot.image(), title, tags, album)
    await bot.answer_of(payload, "Short link")
    form = bot.chevereto.upload_requests[0].form
    assert (form["title"], form["tags"], form["album_id"]) == ("My cat", "cute,cat,kitten", "4c")


async def test_a_bad_album_is_one_ephemeral_sentence(bot: Harness) -> None:
    """A BotError raised while reading the options becomes one ephemeral, translated sentence."""
    album = {"name": "album", "type": 3, "value": "not an album!"}
    payload = await upload(bot, bot.image(), album)
    answer = await bot.answer_of(payload, "not a valid album id")
    assert answer.json["data"]["flags"] == EPHEMERAL
    assert bot.fake.downloads == []


async def test_an_oversized_attachment_is_refused_before_download(bot: Harness) -> None:
    """A declared size over MAX_UPLOAD_MB is refused naming the limit; nothing is fetched."""
    await link_alice(bot)
    big = bot.fake.add_attachment(
        b"\0" * 16, filename="big.mp4", content_type="video/mp4", declared_size=60 * MB
    )
    payload = await upload(bot, big)
    answer = await bot.answer_of(payload, "50 MB")
    assert answer.json["data"]["flags"] == EPHEMERAL
    assert bot.fake.downloads == []
    assert bot.chevereto.upload_requests == []
    assert await unfinished_jobs(bot.core.store) == 0


async def test_a_non_media_attachment_is_refused(bot: Harness) -> None:
    """A text file given to /upload gets "not an image or a video", ephemerally."""
    await link_alice(bot)
    text = bot.fake.add_attachment(b"hello", filename="a.txt", content_type="text/plain")
    payload = await upload(bot, text)
    answer = await bot.answer_of(payload, "not an image or a video")
    assert answer.json["data"]["flags"] == EPHEMERAL
    assert bot.fake.downloads == []


async def test_a_long_upload_shows_progress_in_the_response(bot: Harness) -> None:
    """A file that takes about a second to come from the CDN: once the job has run the status
    wait (half a second here) its progress edits the deferred response, which the answer then
    replaces."""
    await link_alice(bot)
    bot.fake.bandwidth = 1024 * 1024
    data = probe_png() + b"\0" * MB
    payload = await upload(bot, bot.image("big.png", data))
    progress = await bot.answer_of(payload, "Uploading…")
    answer = await bot.answer_of(payload, "Short link", timeout=20)
    assert progress.method == answer.method == "PATCH"
    assert answer.path == progress.path
    assert "/delete/" not in str(answer.json)
    (image,) = bot.chevereto.images.values()
    assert image.size == len(data)


async def test_history_is_ephemeral_with_delete_links(bot: Harness) -> None:
    """/history lists the uploads with their delete links, ephemeral and without embeds."""
    await link_alice(bot)
    await bot.answer_of(await upload(bot, bot.image()), "/delete/")
    payload = await bot.slash("history")
    answer = await bot.answer_of(payload, "Your last uploads")
    assert answer.json["data"]["flags"] == EPHEMERAL | SUPPRESS_EMBEDS
    assert "/delete/" in answer.json["data"]["content"]
    assert buttons(answer.json["data"])[0]["custom_id"].startswith("del:")


async def test_a_chinese_client_gets_chinese(bot: Harness) -> None:
    """A zh-CN locale gets the answer in Simplified Chinese."""
    payload = await bot.slash("settings", locale="zh-CN")
    answer = await bot.answer_of(payload, "密钥")
    assert "过期时间" in answer.json["data"]["content"]


async def test_the_delete_button_asks_then_deletes(bot: Harness) -> None:
    """Delete asks for confirmation; confirming deletes the image on the host and says so."""
    await link_alice(bot)
    await bot.answer_of(await upload(bot, bot.image()), "/delete/")
    (image,) = bot.chevereto.images.values()
    secret = next(m for m in bot.fake.messages.values() if "/delete/" in m["content"])
    ask = await bot.click(buttons(secret)[0]["custom_id"], secret)
    question = await bot.answer_of(ask, "This cannot be undone")
    confirm = next(b for b in buttons(question.json) if b["custom_id"].startswith("delok:"))
    asked = next(m for m in bot.fake.messages.values() if "cannot be undone" in m["content"])
    done = await bot.answer_of(await bot.click(confirm["custom_id"], asked), "is deleted")
    assert image.id in bot.chevereto.deleted
    assert [r.method for r in bot.chevereto.requests if "/delete/" in r.path] == ["GET"]
    assert done.json["content"] == "cat.png is deleted from the host."


async def test_only_the_uploader_can_press_delete(bot: Harness) -> None:
    """Another user pressing Delete is told only the uploader can; nothing is deleted."""
    await link_alice(bot)
    await bot.answer_of(await upload(bot, bot.image()), "/delete/")
    secret = next(m for m in bot.fake.messages.values() if "/delete/" in m["content"])
    click = await bot.click(buttons(secret)[0]["custom_id"], secret, user_id=BOB_ID)
    await bot.answer_of(click, "Only the person who uploaded")
    assert len(bot.chevereto.images) == 1


async def test_the_context_menu_uploads_every_image_of_a_message(bot: Harness) -> None:
    """ "Upload to Chevereto" on a message uploads its images (not its text file) in one job."""
    await link_alice(bot)
    note = bot.fake.add_attachment(b"hi", filename="note.txt", content_type="text/plain")
    message = bot.fake.message_create(
        CHANNEL,
        bot.user(BOB_ID),
        content="Holiday #beach",
        attachments=[bot.image("a.png"), bot.image("b.png"), note],
    )
    payload = bot.fake.message_command_interaction(
        "Upload to Chevereto", message, user=bot.user(ALICE_ID)
    )
    await bot.fake.dispatch("INTERACTION_CREATE", payload)
    summary = await bot.answer_of(payload, "2 of 2 files uploaded")
    assert summary.method == "PATCH"
    assert {r.form["title"] for r in bot.chevereto.upload_requests} == {"Holiday"}
    assert sorted(r.path.rsplit("/", 1)[1] for r in bot.fake.downloads) == ["a.png", "b.png"]


async def test_commands_are_synced_with_chinese_labels(bot: Harness) -> None:
    """At start the commands are synced, with Chinese descriptions, choices and menu name."""
    commands = {c["name"]: c for c in bot.fake.commands[None]}
    assert set(commands) == {
        *("start", "help", "link", "unlink", "settings", "history", "stats", "expire", "nsfw"),
        *("album", "category", "width", "filedate", "format", "mirror", "backfill", "upload"),
        "Upload to Chevereto",
    }
    menu = commands["Upload to Chevereto"]
    assert (menu["type"], menu["name_localizations"]) == (3, {"zh-CN": "上传到 Chevereto"})
    upload_command = commands["upload"]
    assert upload_command["description_localizations"]["zh-CN"].startswith("上传")
    expiration = next(o for o in upload_command["options"] if o["name"] == "expiration")
    one_day = next(c for c in expiration["choices"] if c["value"] == "P1D")
    assert (one_day["name"], one_day["name_localizations"]) == ("1 day", {"zh-CN": "1 天"})
    assert str(commands["mirror"]["default_member_permissions"]) == str(1 << 5)
    assert commands["mirror"]["contexts"] == [0]
    backfill = commands["backfill"]
    assert str(backfill["default_member_permissions"]) == str(1 << 5)
    assert [o["name"] for o in backfill["options"]] == ["start", "status", "stop"]
    bbcode = next(c for c in commands["format"]["options"][0]["choices"] if c["value"] == "bbcode")
    assert bbcode["name_localizations"] == {"zh-CN": "BBCode 嵌入代码"}
