"""The Telegram adapter end to end: real python-telegram-bot, fake Bot API, fake Chevereto."""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from adapters.telegram.outbound import MESSAGE_MAX
from bot.chevereto.probe import probe_png
from tests.conftest import KEY, OTHER_KEY
from tests.support.fakes.telegram_api import TEST_TOKEN
from tests.support.running import QUICK, running
from tests.support.settings import core_settings
from tests.support.sqlite_faults import rename_table
from tests.support.telegram_harness import (
    ALICE_ID,
    BOB_ID,
    GROUP_ID,
    action_buttons,
    all_answered,
    buttons,
    handled,
    history,
    mirror_on,
    photo_update,
    telegram_for,
    texts_to,
    url_buttons,
    user_ref,
)
from tests.support.waiting import eventually

MB = 1024 * 1024
PERCENT = re.compile(r"Uploading… (\d+)%")


async def test_private_photo_gets_one_answer_with_links_and_the_delete_link(
    bot, telegram, chevereto
):
    """A photo in private: one message for Alice alone, link previews off: viewer and short URL
    with their buttons, then the delete link and its Delete button; no status message first."""
    await bot.store.keys.link(user_ref(ALICE_ID), KEY)
    alice = telegram.user(ALICE_ID)
    telegram.push_update(photo_update(telegram, telegram.private_chat(alice), alice))
    answer = await telegram.wait_for(lambda m: "/image/" in (m["text"] or ""))
    await eventually(lambda: all_answered(bot))
    assert telegram.sent == [answer]
    (image,) = chevereto.images.values()
    viewer, short = f"{chevereto.url}/image/{image.id}", f"{chevereto.url}/{image.id}"
    delete = f"{viewer}/delete/{image.delete_hash}"
    lines = answer["text"].splitlines()
    assert lines.index(viewer) < lines.index(short) < lines.index(delete)
    assert (answer["method"], answer["chat_id"]) == ("sendMessage", ALICE_ID)
    assert answer["preview_disabled"]
    links, (delete_button,) = url_buttons(answer), action_buttons(answer)
    assert links == [viewer, short]
    assert delete_button.startswith("del:")
    assert chevereto.upload_requests[0].headers["x-api-key"] == KEY


async def test_the_file_url_never_reaches_the_host(bot, telegram, chevereto):
    """Chevereto receives the bytes, never a URL: nothing it sees holds the bot token."""
    await bot.store.keys.link(user_ref(ALICE_ID), KEY)
    alice = telegram.user(ALICE_ID)
    data = probe_png()
    telegram.push_update(photo_update(telegram, telegram.private_chat(alice), alice, data=data))
    await telegram.wait_for(lambda m: "/delete/" in (m["text"] or ""))
    (request,) = chevereto.upload_requests
    assert request.file_size == len(data)
    secret_part = TEST_TOKEN.split(":")[1]
    assert all(secret_part not in str(v) for v in (request.form, request.headers, request.query))
    assert all(secret_part not in (m["text"] or "") for m in telegram.sent)


async def test_mirrored_group_keeps_the_delete_link_private(bot, telegram, chevereto):
    """A mirrored group sees viewer and short URLs; the delete link goes to the poster alone."""
    await mirror_on(bot, telegram)
    await bot.store.keys.link(user_ref(ALICE_ID), KEY)
    alice = telegram.user(ALICE_ID)
    telegram.push_update(photo_update(telegram, telegram.group_chat(GROUP_ID), alice))
    public = await telegram.wait_for(
        lambda m: m["chat_id"] == GROUP_ID and "/image/" in (m["text"] or "")
    )
    secret = await telegram.wait_for(lambda m: "/delete/" in (m["text"] or ""))
    assert secret["chat_id"] == ALICE_ID
    assert secret["preview_disabled"]
    assert "/delete/" not in public["text"]
    assert all("/delete/" not in t for t in texts_to(telegram, GROUP_ID))


async def test_closed_private_chat_points_to_history(bot, telegram):
    """When the poster never started the bot, the group answer says how to get the link."""
    await mirror_on(bot, telegram)
    await bot.store.keys.link(user_ref(ALICE_ID), KEY)
    telegram.forbid_chat(ALICE_ID)
    alice = telegram.user(ALICE_ID)
    telegram.push_update(photo_update(telegram, telegram.group_chat(GROUP_ID), alice))
    await telegram.wait_for(lambda m: m["chat_id"] == GROUP_ID and "/history" in (m["text"] or ""))
    await asyncio.sleep(0.3)
    assert all("/delete/" not in t for t in texts_to(telegram, GROUP_ID))


async def test_album_gets_one_answer(bot, telegram, chevereto):
    """Three photos with one media_group_id: one summary, the caption from whichever item has it;
    in private that one message holds the three delete links and Delete buttons too."""
    await bot.store.keys.link(user_ref(ALICE_ID), KEY)
    alice = telegram.user(ALICE_ID)
    chat = telegram.private_chat(alice)
    for n in range(3):
        caption = "Beach day #summer" if n == 1 else None
        telegram.push_update(
            photo_update(telegram, chat, alice, media_group_id="alb1", caption=caption)
        )
    summary = await telegram.wait_for(lambda m: "3 of 3" in (m["text"] or ""), timeout=15)
    await eventually(lambda: all_answered(bot))  # a job is finished once its answers are out
    assert [t for t in texts_to(telegram, ALICE_ID) if "/image/" in t] == [summary["text"]]
    assert summary["text"].count("/delete/") == 3
    assert summary["preview_disabled"]
    assert [a.split(":")[0] for a in action_buttons(summary)] == ["del"] * 3
    assert {r.form.get("title") for r in chevereto.upload_requests} == {"Beach day"}


async def test_an_answer_longer_than_a_message_goes_as_several(bot, telegram, chevereto):
    """An album whose answer is over Telegram's 4096 characters: several messages cut between
    lines, each with previews off, the Delete buttons on the last; together, every link."""
    await bot.store.keys.link(user_ref(ALICE_ID), KEY)
    alice = telegram.user(ALICE_ID)
    chat = telegram.private_chat(alice)
    for n in range(8):
        name = f"{n}-{'x' * 200}.png"
        ref = telegram.add_file(probe_png(), file_name=name, mime_type="image/png")
        telegram.push_update(
            telegram.message_update(chat, alice, document=ref, media_group_id="long")
        )
    await telegram.wait_for(lambda m: "8 of 8" in (m["text"] or ""), timeout=15)
    await eventually(lambda: all_answered(bot))
    parts = [m for m in telegram.sent if m["chat_id"] == ALICE_ID]
    assert len(parts) >= 2
    assert all(len(m["text"]) <= MESSAGE_MAX for m in parts)
    assert all(m["preview_disabled"] for m in parts)
    assert [m["reply_markup"] is None for m in parts] == [True] * (len(parts) - 1) + [False]
    assert len(action_buttons(parts[-1])) == 8
    lines = "\n".join(m["text"] for m in parts).splitlines()
    assert len(chevereto.images) == 8
    for image in chevereto.images.values():
        viewer = f"{chevereto.url}/image/{image.id}"
        assert {
            viewer,
            f"{chevereto.url}/{image.id}",
            f"{viewer}/delete/{image.delete_hash}",
        } <= set(lines)


async def test_oversize_is_refused_before_getfile(bot, telegram, chevereto):
    """A 25 MB video is refused naming the 20 MB limit, without getFile or any upload."""
    await bot.store.keys.link(user_ref(ALICE_ID), KEY)
    alice = telegram.user(ALICE_ID)
    ref = telegram.add_file(b"\x00\x00\x00\x18ftypmp42" + b"0" * 100, mime_type="video/mp4")
    telegram.push_update(
        telegram.message_update(
            telegram.private_chat(alice), alice, video=ref, declared_size=25 * MB
        )
    )
    answer = await telegram.wait_for(lambda m: "MB" in (m["text"] or ""))
    assert "20 MB" in answer["text"]
    assert telegram.calls_to("getFile") == []
    assert chevereto.requests == []


async def test_non_media_in_private_is_answered(bot, telegram):
    """A text or a PDF in private gets "not an image or a video"."""
    alice = telegram.user(ALICE_ID)
    chat = telegram.private_chat(alice)
    telegram.push_update(telegram.message_update(chat, alice, text="hello"))
    pdf = telegram.add_file(b"%PDF-1.4 test", file_name="a.pdf", mime_type="application/pdf")
    telegram.push_update(telegram.message_update(chat, alice, document=pdf))
    await telegram.wait_for(
        lambda m: len([t for t in texts_to(telegram, ALICE_ID) if "not an image" in t]) == 2
    )


async def test_non_media_in_a_mirrored_group_is_ignored(bot, telegram):
    """In a mirrored group a PDF and a text get no answer at all."""
    await mirror_on(bot, telegram)
    before = len(texts_to(telegram, GROUP_ID))
    alice = telegram.user(ALICE_ID)
    pdf = telegram.add_file(b"%PDF-1.4 test", file_name="a.pdf", mime_type="application/pdf")
    group = telegram.group_chat(GROUP_ID)
    telegram.push_update(telegram.message_update(group, alice, document=pdf))
    last = telegram.push_update(telegram.message_update(group, alice, text="nice"))
    await handled(telegram, last)
    assert len(texts_to(telegram, GROUP_ID)) == before


async def test_link_in_a_group_is_deleted_and_not_stored(bot, telegram, chevereto):
    """/link with a key in a group: the message is deleted, the key neither stored nor echoed."""
    telegram.set_chat_member(GROUP_ID, telegram.bot_id, "administrator")
    alice = telegram.user(ALICE_ID)
    update = telegram.message_update(telegram.group_chat(GROUP_ID), alice, text=f"/link {KEY}")
    telegram.push_update(update)
    answer = await telegram.wait_for(lambda m: m["chat_id"] == GROUP_ID)
    assert "private chat" in answer["text"]
    assert (GROUP_ID, update["message"]["message_id"]) in telegram.deleted
    assert await bot.store.keys.of(user_ref(ALICE_ID)) is None
    assert chevereto.requests == []
    assert all(
        KEY not in str(call["params"]) for call in telegram.calls if call["method"] != "getUpdates"
    )


async def test_link_in_private_verifies_and_masks(bot, telegram, chevereto):
    """/link in private checks the key with the host, stores it and answers it masked."""
    alice = telegram.user(ALICE_ID)
    telegram.push_update(
        telegram.message_update(telegram.private_chat(alice), alice, text=f"/link {KEY}")
    )
    answer = await telegram.wait_for(lambda m: "linked" in (m["text"] or ""))
    assert "chv_…kkkk" in answer["text"]
    assert KEY not in answer["text"]
    assert await bot.store.keys.of(user_ref(ALICE_ID)) == KEY
    assert len(chevereto.deleted) == 1


async def test_delete_button_flow(bot, telegram, chevereto):
    """Delete asks first; another user cannot confirm; the uploader's confirmation deletes."""
    await bot.store.keys.link(user_ref(ALICE_ID), KEY)
    alice, bob = telegram.user(ALICE_ID), telegram.user(BOB_ID)
    telegram.push_update(photo_update(telegram, telegram.private_chat(alice), alice))
    secret = await telegram.wait_for(lambda m: "/delete/" in (m["text"] or ""))
    (data,) = action_buttons(secret)
    telegram.push_update(telegram.callback_query(alice, secret, data))
    ask = await telegram.wait_for(lambda m: "cannot be undone" in (m["text"] or ""))
    confirm = next(
        b["callback_data"] for b in buttons(ask) if b["callback_data"].startswith("delok:")
    )
    telegram.push_update(telegram.callback_query(bob, ask, confirm))
    await telegram.wait_for(lambda m: "Only the person" in (m["text"] or ""))
    assert chevereto.deleted == set()
    telegram.push_update(telegram.callback_query(alice, ask, confirm))
    await telegram.wait_for(lambda m: "is deleted from the host" in (m["text"] or ""))
    assert len(chevereto.deleted) == 1
    assert any(r.method == "GET" and "/delete/" in r.path for r in chevereto.requests)


async def test_mirror_is_for_admins_and_uses_their_key(bot, telegram, chevereto):
    """A member cannot turn mirroring on; an admin can, and posters without a key use theirs."""
    await bot.store.keys.link(user_ref(BOB_ID), OTHER_KEY)
    telegram.set_chat_member(GROUP_ID, telegram.bot_id, "administrator")
    alice, bob = telegram.user(ALICE_ID), telegram.user(BOB_ID, first_name="Bob")
    group = telegram.group_chat(GROUP_ID)
    telegram.push_update(telegram.message_update(group, alice, text="/mirror on"))
    await telegram.wait_for(lambda m: "Only the chat's admins" in (m["text"] or ""))
    telegram.set_chat_member(GROUP_ID, BOB_ID, "administrator")
    telegram.push_update(telegram.message_update(group, bob, text="/mirror on"))
    on = await telegram.wait_for(lambda m: "Mirroring is on" in (m["text"] or ""))
    assert "Bob" in on["text"]
    assert "@BotFather" in on["text"]  # what the bot needs to see every post, said on Telegram
    telegram.push_update(photo_update(telegram, group, alice))
    await telegram.wait_for(lambda m: m["chat_id"] == GROUP_ID and "/image/" in (m["text"] or ""))
    assert chevereto.upload_requests[-1].headers["x-api-key"] == OTHER_KEY


async def test_chinese_for_zh_hans(bot, telegram):
    """A user whose language is zh-hans is answered in Chinese."""
    alice = telegram.user(ALICE_ID, language_code="zh-hans")
    telegram.push_update(
        telegram.message_update(telegram.private_chat(alice), alice, text="/settings")
    )
    answer = await telegram.wait_for(lambda m: m["chat_id"] == ALICE_ID)
    assert "密钥" in answer["text"]


async def test_upload_as_a_reply(bot, telegram, chevereto):
    """/upload replying to a group message with a photo uploads it with the sender's key."""
    await bot.store.keys.link(user_ref(BOB_ID), OTHER_KEY)
    telegram.set_chat_member(GROUP_ID, telegram.bot_id, "administrator")
    alice, bob = telegram.user(ALICE_ID), telegram.user(BOB_ID)
    group = telegram.group_chat(GROUP_ID)
    original = photo_update(telegram, group, alice)["message"]
    telegram.push_update(telegram.message_update(group, bob, text="/upload", reply_to=original))
    await telegram.wait_for(lambda m: m["chat_id"] == GROUP_ID and "/image/" in (m["text"] or ""))
    assert chevereto.upload_requests[0].headers["x-api-key"] == OTHER_KEY
    await telegram.wait_for(lambda m: m["chat_id"] == BOB_ID and "/delete/" in (m["text"] or ""))


async def test_upload_without_media_explains(bot, telegram):
    """/upload that replies to nothing explains how to use it."""
    alice = telegram.user(ALICE_ID)
    telegram.push_update(
        telegram.message_update(telegram.private_chat(alice), alice, text="/upload")
    )
    await telegram.wait_for(lambda m: "Reply to a message" in (m["text"] or ""))


async def test_help_says_how_to_upload_on_telegram(bot, telegram):
    """/help's upload line is Telegram's own, in the user's language."""
    alice = telegram.user(ALICE_ID)
    bob = telegram.user(BOB_ID, language_code="zh-hans")
    telegram.push_update(telegram.message_update(telegram.private_chat(alice), alice, text="/help"))
    telegram.push_update(telegram.message_update(telegram.private_chat(bob), bob, text="/help"))
    await telegram.wait_for(lambda m: "the media of the message you reply to" in (m["text"] or ""))
    await telegram.wait_for(lambda m: "回复一条带媒体的消息来上传它" in (m["text"] or ""))


async def test_backfill_is_one_sentence_pointing_to_mirror(bot, telegram, chevereto):
    """/backfill, in a group or in private, in English or Chinese: why not here, and /mirror
    on instead; nothing is read or uploaded, and the command menu does not offer it."""
    telegram.set_chat_member(GROUP_ID, telegram.bot_id, "administrator")
    alice = telegram.user(ALICE_ID)
    bob = telegram.user(BOB_ID, language_code="zh-hans")
    group = telegram.group_chat(GROUP_ID)
    telegram.push_update(telegram.message_update(group, alice, text="/backfill start"))
    telegram.push_update(telegram.message_update(telegram.private_chat(bob), bob, text="/backfill"))
    english = await telegram.wait_for(lambda m: "past messages" in (m["text"] or ""))
    chinese = await telegram.wait_for(lambda m: "无法回填历史" in (m["text"] or ""))
    assert english["chat_id"] == GROUP_ID
    assert "/mirror on re-hosts every image and video posted from now on" in english["text"]
    assert chinese["chat_id"] == BOB_ID
    assert chevereto.upload_requests == []
    assert "backfill" not in {c["command"] for c in telegram.commands_for("") or []}


async def test_command_menu_in_english_and_chinese(bot, telegram):
    """setMyCommands ran for the default language and for Chinese."""
    english = telegram.commands_for("")
    chinese = telegram.commands_for("zh")
    assert english is not None
    assert chinese is not None
    assert {c["command"] for c in english} >= {"link", "upload", "mirror", "history"}
    assert any("密钥" in c["description"] for c in chinese)


@pytest.mark.slow
async def test_rate_limited_send_is_retried(bot, telegram):
    """A 429 with retry_after on sendMessage is waited out, and the message still arrives."""
    telegram.fail(
        "sendMessage", status=429, description="Too Many Requests: retry after 1", retry_after=1
    )
    alice = telegram.user(ALICE_ID)
    telegram.push_update(telegram.message_update(telegram.private_chat(alice), alice, text="/help"))
    await telegram.wait_for(lambda m: "/link" in (m["text"] or ""), timeout=15)


async def test_progress_edits_one_status_message(bot, telegram, chevereto):
    """A job that runs a while: once it has run the status wait (half a second here), one status
    message shows the percentage, edited as it grows, then edited into the answer (links and
    delete link, previews off)."""
    await bot.store.keys.link(user_ref(ALICE_ID), KEY)
    alice = telegram.user(ALICE_ID)
    telegram.bandwidth = 500 * 1024  # the 1 MB photo downloads in about 2 s
    big = probe_png() + b"\0" * MB
    pushed = time.monotonic()
    telegram.push_update(photo_update(telegram, telegram.private_chat(alice), alice, data=big))
    await telegram.wait_for(lambda m: "/delete/" in (m["text"] or ""), timeout=20)
    await eventually(lambda: all_answered(bot))
    (status,) = history(telegram, ALICE_ID).values()
    first, *edits, answer = status
    assert first["method"] == "sendMessage"
    assert first["at"] - pushed >= QUICK.status_after_s
    assert [v["method"] for v in [*edits, answer]] == ["editMessageText"] * (len(edits) + 1)
    shown = [int(PERCENT.fullmatch(v["text"])[1]) for v in [first, *edits]]
    assert len(shown) >= 2, shown
    assert shown == sorted(set(shown))
    assert "/image/" in answer["text"]
    assert "/delete/" in answer["text"]
    assert answer["preview_disabled"]


async def test_pending_updates_are_served_at_start(settings, platform, telegram, chevereto):
    """An update sent while the bot was down is answered when it starts."""
    alice = telegram.user(ALICE_ID)
    telegram.push_update(telegram.message_update(telegram.private_chat(alice), alice, text="/help"))
    async with running(settings, platform, tuning=QUICK):
        await telegram.wait_for(lambda m: "/link" in (m["text"] or ""))
    assert all(
        call["params"].get("drop_pending_updates") in (None, False, "false")
        for call in telegram.calls
        if call["method"] == "deleteWebhook"
    )


async def test_restart_resumes_an_unfinished_upload(settings, platform, telegram, chevereto):
    """A bot stopped mid-upload answers the photo, once, after it starts again."""
    alice = telegram.user(ALICE_ID)
    chevereto.hang_next(2)
    async with running(settings, platform, tuning=QUICK) as core:
        await core.store.keys.link(user_ref(ALICE_ID), KEY)
        telegram.push_update(photo_update(telegram, telegram.private_chat(alice), alice))
        await eventually(lambda: bool(chevereto.upload_requests))
    assert not [t for t in texts_to(telegram, ALICE_ID) if "/image/" in t]
    async with running(settings, platform, tuning=QUICK):
        await telegram.wait_for(lambda m: "/delete/" in (m["text"] or ""), timeout=15)
        await asyncio.sleep(0.5)
    (answer,) = [t for t in texts_to(telegram, ALICE_ID) if "/image/" in t]
    assert "/delete/" in answer
    assert len(chevereto.images) == 1


async def test_webhook_mode_checks_the_secret(settings, telegram, unused_port):
    """Webhook mode registers its URL and secret; a POST without the secret is refused."""
    url = f"http://127.0.0.1:{unused_port}/telegram"
    platform = telegram_for(
        telegram,
        webhook_url=url,
        webhook_listen=f"127.0.0.1:{unused_port}",
        webhook_secret="s3cret-Token_1",
    )
    telegram.deliver_webhooks = False
    async with running(settings, platform, tuning=QUICK):
        hook = await telegram.wait_for_call("setWebhook")
        assert hook["params"]["url"] == url
        assert hook["params"]["secret_token"] == "s3cret-Token_1"
        alice = telegram.user(ALICE_ID)
        update = telegram.message_update(telegram.private_chat(alice), alice, text="/help")
        update["update_id"] = 77
        assert await telegram.post_webhook(url, update, "wrong") == 403
        assert await telegram.post_webhook(url, update, None) == 403
        await asyncio.sleep(0.3)
        assert texts_to(telegram, ALICE_ID) == []
        assert await telegram.post_webhook(url, update, "s3cret-Token_1") == 200
        await telegram.wait_for(lambda m: "/link" in (m["text"] or ""))
    assert telegram.calls_to("getUpdates") == []


async def test_webhook_secret_is_generated_once(settings, telegram, tmp_path, unused_port):
    """Without TELEGRAM_WEBHOOK_SECRET a secret is generated into DATA_DIR and reused."""
    url = f"http://127.0.0.1:{unused_port}/"
    platform = telegram_for(telegram, webhook_url=url, webhook_listen=f"127.0.0.1:{unused_port}")
    async with running(settings, platform, tuning=QUICK):
        first = (await telegram.wait_for_call("setWebhook"))["params"]["secret_token"]
    stored = (tmp_path / "data" / "telegram-webhook.secret").read_text()
    assert first == stored
    assert (tmp_path / "data" / "telegram-webhook.secret").stat().st_mode & 0o777 == 0o600


@pytest.mark.slow
async def test_an_update_whose_upload_cannot_be_stored_is_not_acknowledged(
    platform, telegram, chevereto, tmp_path
):
    """With the jobs table gone, a photo stays unacknowledged; once it is back, it is answered."""
    path = tmp_path / "bot.sqlite3"
    settings = core_settings(chevereto, tmp_path / "data", f"sqlite+aiosqlite:///{path}")
    async with running(settings, platform, tuning=QUICK) as core:
        await core.store.keys.link(user_ref(ALICE_ID), KEY)
        await telegram.wait_for_call("getUpdates")
        await rename_table(path, "jobs", "jobs_away")
        alice = telegram.user(ALICE_ID)
        polls = len(telegram.calls_to("getUpdates"))
        update_id = telegram.push_update(
            photo_update(telegram, telegram.private_chat(alice), alice)
        )
        await eventually(lambda: len(telegram.calls_to("getUpdates")) >= polls + 2, within=15)
        assert update_id in [u["update_id"] for u in telegram.pending_updates]
        await rename_table(path, "jobs_away", "jobs")
        await telegram.wait_for(lambda m: "/delete/" in (m["text"] or ""), timeout=20)
        await asyncio.sleep(0.5)
    (answer,) = [t for t in texts_to(telegram, ALICE_ID) if "/image/" in t]
    assert "/delete/" in answer
    assert len(chevereto.images) == 1
