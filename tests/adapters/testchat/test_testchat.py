"""A third platform, built on ``bot.platform`` alone, end to end: the real core, the fake
chat service, the fake Chevereto. Nothing in ``bot/`` knows this platform exists."""

from __future__ import annotations

import os
from dataclasses import replace
from importlib.metadata import entry_points

import pytest

from bot.chevereto.probe import probe_png
from bot.domain import Reply, UserRef, Visibility
from bot.platform.registry import GROUP, installed
from bot.texts import t
from tests.conftest import KEY, OTHER_KEY
from tests.support.chat_platform.settings import ChatSettings
from tests.support.fakes.chat_api import FakeChat, Sent
from tests.support.plugin import install_plugin
from tests.support.running import FAST, running
from tests.support.settings import core_settings
from tests.support.waiting import eventually

MB = 1024 * 1024
ALICE, BOB = "1001", "1002"
NOTICE = Reply(t("outage.back", site="https://img.example"), visibility=Visibility.PRIVATE_TO_USER)


@pytest.fixture
async def chat():
    """The fake chat service; afterwards, no delete link may have gone to a group or with a
    link preview."""
    async with FakeChat() as fake:
        yield fake
        assert fake.leaks() == []


@pytest.fixture
async def bot(request, chevereto, chat, tmp_path, database):
    """The bot on the chat service, with FAST timings unless ``param`` gives others."""
    settings = core_settings(chevereto, tmp_path / "data", database)
    platform = ChatSettings(_env_file=None, url=chat.url)  # type: ignore[call-arg]
    async with running(settings, platform, tuning=getattr(request, "param", FAST)) as core:
        await eventually(lambda: chat.polls > 0)
        yield core


def user(user_id: str) -> UserRef:
    return UserRef("testchat", user_id)


def photo(name: str = "photo.png", data: bytes | None = None) -> tuple[str, str, bytes]:
    return name, "image/png", probe_png() if data is None else data


def public(message: Sent) -> bool:
    return "/image/" in message.text and "/delete/" not in message.text


def secret(message: Sent) -> bool:
    return "/delete/" in message.text


def answer(message: Sent) -> bool:
    """A job's answer holding links: in a private chat, the one answer with its delete links."""
    return "/image/" in message.text


async def settled(core, user_id: str = ALICE) -> None:
    """Waits until the user's jobs are all answered: no message of theirs is still to come."""

    async def no_jobs() -> bool:
        return await core.store.jobs.waiting_of("testchat", user_id) == 0

    await eventually(no_jobs, within=15)


@pytest.mark.parametrize("bot", [replace(FAST, status_after_s=5.0)], indirect=True, ids=["5s"])
async def test_linked_key_uploads_a_private_photo(bot, chat, chevereto):
    """/link then a photo in private: uploaded with that key, and one answer in reply to the
    photo, previews off: the links, then the delete link and its Delete button. Done before
    the status wait (5 s here, whatever the machine's load), it shows no status message."""
    alice = chat.user(ALICE)
    chat.post(alice, chat.private(alice), f"/link {KEY}")
    linked = await chat.wait_for(lambda m: "is linked" in m.text)
    assert KEY not in linked.text
    posted = chat.post(alice, chat.private(alice), files=[photo()])
    reply = await chat.wait_for(answer)
    await settled(bot)
    (image,) = chevereto.images.values()
    upload = chevereto.upload_requests[-1]
    assert (upload.headers["x-api-key"], upload.file_name) == (KEY, "photo.png")
    assert (reply.chat, reply.reply_to, reply.previews) == (ALICE, posted, False)
    assert reply.edits == []
    short = f"{chevereto.url}/{image.id}"
    assert reply.text.index(short) < reply.text.index(f"/delete/{image.delete_hash}")
    assert reply.urls == [f"{chevereto.url}/image/{image.id}", short]
    assert reply.actions == [f"del:{(await bot.store.uploads.history(user(ALICE), 1))[0].id}"]
    assert chat.sent == [linked, reply]


async def test_delete_button_asks_then_deletes(bot, chat, chevereto):
    """The Delete button asks for confirmation; confirming deletes the upload on the host."""
    await bot.store.keys.link(user(ALICE), KEY)
    alice = chat.user(ALICE)
    chat.post(alice, chat.private(alice), files=[photo()])
    delete = await chat.wait_for(secret)
    chat.press(alice, delete, delete.actions[0])
    confirm = await chat.wait_for(lambda m: "cannot be undone" in m.text)
    chat.press(alice, confirm, next(a for a in confirm.actions if a.startswith("delok:")))
    await chat.wait_for(lambda m: "is deleted from the host" in m.text)
    assert chevereto.images == {}
    assert len(chevereto.deleted) == 1


async def test_album_gets_one_summary_with_its_failure(bot, chat, chevereto):
    """Three files with one album id, in private: one answer, the summary listing both uploads
    and the file the host refused, then both delete links; the caption of any item as every
    title."""
    await bot.store.keys.link(user(ALICE), KEY)
    alice = chat.user(ALICE)
    here = chat.private(alice)
    chat.post(alice, here, files=[photo("a.png")], album="alb1")
    chat.post(alice, here, "Beach day #summer", files=[photo("b.png", b"no image")], album="alb1")
    chat.post(alice, here, files=[photo("c.png")], album="alb1")
    summary = await chat.wait_for(lambda m: "files uploaded" in m.text, within=15)
    await settled(bot)
    assert summary.text.startswith("2 of 3 files uploaded.")
    assert "a.png" in summary.text
    assert "c.png" in summary.text
    assert "b.png: The host refused that file" in summary.text
    assert summary.text.count("/delete/") == 2
    assert summary.text.count("/image/") == 4  # two viewer links, two delete links
    assert summary.text.index("b.png: The host refused") < summary.text.index("/delete/")
    assert [m for m in chat.sent if answer(m)] == [summary]
    assert not summary.previews
    assert {r.form.get("title") for r in chevereto.upload_requests} == {"Beach day"}


async def test_mirrored_group_answers_there_and_sends_the_delete_link_privately(
    bot, chat, chevereto
):
    """An admin turns mirroring on; a photo posted there by a user with no key is uploaded with
    the admin's key, answered in the group, its delete link sent to the poster in private."""
    await bot.store.keys.link(user(BOB), OTHER_KEY)
    alice, bob = chat.user(ALICE), chat.user(BOB)
    group = chat.group("g-500", admins=[bob])
    chat.post(bob, group, "/mirror on")
    on = await chat.wait_for(lambda m: "Mirroring is on" in m.text)
    assert "Every message of a group reaches me" in on.text
    posted = chat.post(alice, group, files=[photo()])
    answer = await chat.wait_for(public)
    delete = await chat.wait_for(secret)
    assert (answer.chat, answer.reply_to) == (group.id, posted)
    assert (delete.chat, delete.reply_to, delete.previews) == (ALICE, None, False)
    assert chevereto.upload_requests[-1].headers["x-api-key"] == OTHER_KEY


async def test_upload_in_a_group_answers_there_and_sends_the_delete_link_privately(
    bot, chat, chevereto
):
    """A photo in a group that is not mirrored is left alone; /upload in reply to it uploads it,
    answered in the group, its delete link sent to the uploader in private."""
    await bot.store.keys.link(user(ALICE), KEY)
    alice = chat.user(ALICE)
    group = chat.group("g-600")
    posted = chat.post(alice, group, files=[photo()])
    command = chat.post(alice, group, "/upload", reply_to=posted)
    answer = await chat.wait_for(public)
    delete = await chat.wait_for(secret)
    await settled(bot)
    assert chat.to(group) == [answer]
    assert answer.reply_to == command
    assert (delete.chat, delete.previews) == (ALICE, False)
    assert chevereto.upload_requests[-1].headers["x-api-key"] == KEY


async def test_closed_private_chat_points_to_history(bot, chat, chevereto):
    """When the uploader's private chat is closed, the group hears how to get the delete link,
    and the link itself goes nowhere."""
    await bot.store.keys.link(user(ALICE), KEY)
    alice = chat.user(ALICE)
    chat.close_private(alice)
    group = chat.group("g-700")
    chat.post(alice, group, "/upload", reply_to=chat.post(alice, group, files=[photo()]))
    await chat.wait_for(lambda m: m.chat == group.id and "/history" in m.text)
    await settled(bot)
    assert not any(secret(m) for m in chat.sent)
    assert len(chevereto.images) == 1


async def test_expiration_reaches_the_host(bot, chat, chevereto):
    """/expire 1h, then a photo: the host receives expiration=PT1H and the answer says when."""
    await bot.store.keys.link(user(ALICE), KEY)
    alice = chat.user(ALICE)
    chat.post(alice, chat.private(alice), "/expire 1h")
    await chat.wait_for(lambda m: "expire after PT1H" in m.text)
    chat.post(alice, chat.private(alice), files=[photo()])
    reply = await chat.wait_for(answer)
    assert chevereto.upload_requests[-1].form["expiration"] == "PT1H"
    assert "Expires" in reply.text


async def test_status_message_becomes_the_answer(bot, chat, chevereto):
    """A file that takes about a second to come from the service shows a status message once
    the job has run the status wait (half a second here); the one answer, delete link
    included, is edited into it (previews off)."""
    await bot.store.keys.link(user(ALICE), KEY)
    alice = chat.user(ALICE)
    chat.bandwidth = 1024 * 1024
    big = probe_png() + os.urandom(MB)
    chat.post(alice, chat.private(alice), files=[photo("big.png", big)])
    reply = await chat.wait_for(lambda m: answer(m) and secret(m), within=15)
    await settled(bot)
    assert reply.edits
    assert all(text.startswith("Uploading…") for text in reply.edits)
    assert not reply.previews
    assert chat.sent == [reply]
    assert chevereto.upload_requests[-1].file_size == len(big)


async def test_a_dropped_download_is_tried_again(bot, chat, chevereto):
    """The service drops the file download: the job tries again and answers once."""
    await bot.store.keys.link(user(ALICE), KEY)
    alice = chat.user(ALICE)
    chat.drop_next("/files/")
    chat.post(alice, chat.private(alice), files=[photo()])
    await chat.wait_for(secret)
    await settled(bot)
    assert len([m for m in chat.sent if answer(m)]) == 1
    assert len(chevereto.images) == 1
    assert len(chat.downloads) == 1


async def test_a_file_gone_from_the_service_is_answered_as_such(bot, chat, chevereto):
    """A file the service no longer has fails at once, saying so; nothing reaches the host."""
    await bot.store.keys.link(user(ALICE), KEY)
    alice = chat.user(ALICE)
    chat.delete_post(chat.post(alice, chat.private(alice), files=[photo()]))
    await chat.wait_for(lambda m: "no longer available" in m.text)
    await settled(bot)
    assert chevereto.upload_requests == []
    assert chat.downloads == []


async def test_a_stalled_download_does_not_hold_up_other_messages(bot, chat):
    """Updates are acknowledged once stored, not once uploaded: while a download stalls, a
    command posted after the photo is answered first."""
    await bot.store.keys.link(user(ALICE), KEY)
    alice = chat.user(ALICE)
    release = chat.hold_next("/files/")
    chat.post(alice, chat.private(alice), files=[photo()])
    chat.post(alice, chat.private(alice), "/settings")
    settings = await chat.wait_for(lambda m: m.text.startswith("Key:"))
    release.set()
    reply = await chat.wait_for(answer)
    assert chat.sent.index(settings) < chat.sent.index(reply)


async def test_a_reply_lost_on_the_way_does_not_stop_the_bot(bot, chat):
    """The service drops the bot's answer to one command; the next command is answered."""
    alice = chat.user(ALICE)
    chat.drop_next("/messages")
    chat.post(alice, chat.private(alice), "/settings")
    chat.post(alice, chat.private(alice), "/help")
    await chat.wait_for(lambda m: "/upload — reply with it" in m.text)
    assert not any(m.text.startswith("Key:") for m in chat.sent)


async def test_link_in_a_group_is_deleted_and_not_stored(bot, chat, chevereto):
    """/link with a key in a group: the message is deleted, the key neither checked nor stored."""
    alice = chat.user(ALICE)
    group = chat.group("g-800")
    posted = chat.post(alice, group, f"/link {KEY}")
    answer = await chat.wait_for(lambda m: m.chat == group.id)
    assert "private chat" in answer.text
    assert chat.deleted == [posted]
    assert await bot.store.keys.of(user(ALICE)) is None
    assert chevereto.requests == []
    assert all(KEY not in m.text for m in chat.sent)


async def test_help_says_this_platform_s_upload_line_in_the_user_s_language(bot, chat):
    """/help shows the platform's own /upload sentence, in English or Chinese."""
    english, chinese = chat.user(ALICE), chat.user(BOB, language="zh-hans")
    chat.post(english, chat.private(english), "/help")
    chat.post(chinese, chat.private(chinese), "/start")
    assert "/upload — reply with it" in (await chat.wait_for(lambda m: m.chat == ALICE)).text
    assert "/upload — 用它回复" in (await chat.wait_for(lambda m: m.chat == BOB)).text


async def test_tell_writes_to_the_user_s_private_chat(bot, chat):
    """``tell`` sends a reply, in the language given, to the user's private chat."""
    chat.user(ALICE)
    assert await bot.platforms["testchat"].tell(user(ALICE), NOTICE, "zh")
    (sent,) = chat.sent
    assert sent.chat == ALICE
    assert sent.text == "图床 https://img.example 已恢复；等待中的文件正在上传。"


async def test_tell_says_when_the_private_chat_is_closed(bot, chat):
    """A user who closed their private chat to the bot: False, and nothing is sent."""
    chat.close_private(chat.user(ALICE))
    assert not await bot.platforms["testchat"].tell(user(ALICE), NOTICE, "en")
    assert chat.sent == []


def test_the_plugin_is_an_installed_platform(tmp_path, monkeypatch):
    """With the plug-in's dist-info on the path, the registry lists the test platform beside
    Telegram and Discord, through the entry points alone."""
    monkeypatch.syspath_prepend(str(install_plugin(tmp_path)))
    assert "testchat" in {point.name for point in entry_points(group=GROUP)}
    assert ChatSettings in installed()
