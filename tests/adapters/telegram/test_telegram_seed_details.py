"""The seed's last details on Telegram: /filedate (``use_file_date`` only when on), the line
said once a day to a user whose upload went up with a key not their own, and stickers."""

from __future__ import annotations

import pytest

from bot.chevereto.probe import probe_png
from tests.conftest import KEY, OTHER_KEY
from tests.support.running import QUICK, running
from tests.support.settings import core_settings
from tests.support.telegram_harness import (
    ALICE_ID,
    BOB_ID,
    GROUP_ID,
    all_answered,
    handled,
    mirror_on,
    photo_update,
    texts_to,
    user_ref,
)
from tests.support.waiting import eventually

CAROL_ID = 1003
SHARED = "This went up with the bot's shared key, so it is not in your account on the site."
SHARED_ZH = "此文件是用机器人的共享密钥上传的，因此不在你在该站点的账户中。"
ADMINS = "This went up with the key of the admin who mirrors this chat"
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(24)
WEBM = b"\x1a\x45\xdf\xa3" + bytes(28)
TGS = b"\x1f\x8b\x08\x00" + bytes(28)


def private_text(telegram, user_id: int, text: str, language: str = "en") -> None:
    user = telegram.user(user_id, language_code=language)
    telegram.push_update(telegram.message_update(telegram.private_chat(user), user, text=text))


async def private_photo(telegram, user_id: int, language: str = "en") -> dict:
    """A photo in the user's private chat; its answer (the message with the links, sent as a
    reply, or a status message edited into it on a slow machine)."""
    user = telegram.user(user_id, language_code=language)
    update = photo_update(telegram, telegram.private_chat(user), user)
    message_id = update["message"]["message_id"]
    telegram.push_update(update)
    return await telegram.wait_for(
        lambda m: (
            m["chat_id"] == user_id
            and (m["message"].get("reply_to_message") or {}).get("message_id") == message_id
            and "/delete/" in (m["text"] or "")
        )
    )


# --- /filedate -----------------------------------------------------------------------------


async def test_file_date_goes_to_the_host_only_while_on(bot, telegram, chevereto):
    """Off by default: no ``use_file_date``; /filedate on sends ``use_file_date=1`` and says
    it needs a site admin's key and that Telegram strips photos' dates; off again, none."""
    await bot.store.keys.link(user_ref(ALICE_ID), KEY)
    await private_photo(telegram, ALICE_ID)
    private_text(telegram, ALICE_ID, "/filedate on")
    on = await telegram.wait_for(lambda m: "own date (Exif)" in (m["text"] or ""))
    assert "only when your key is a site admin's" in on["text"]
    assert "send the image as a file to keep it" in on["text"]
    await private_photo(telegram, ALICE_ID)
    private_text(telegram, ALICE_ID, "/filedate off")
    await telegram.wait_for(lambda m: "dated by the upload" in (m["text"] or ""))
    await private_photo(telegram, ALICE_ID)
    sent = [r.form.get("use_file_date") for r in chevereto.upload_requests]
    assert sent == [None, "1", None]


async def test_file_date_in_settings_help_menu_and_chinese(bot, telegram):
    """/settings shows it with its condition; /help lists it; the menu offers it; in
    Chinese too; a bad argument gets its usage."""
    private_text(telegram, ALICE_ID, "/filedate maybe")
    await telegram.wait_for(lambda m: "Send /filedate on or /filedate off." in (m["text"] or ""))
    private_text(telegram, ALICE_ID, "/filedate on")
    await telegram.wait_for(lambda m: "own date (Exif)" in (m["text"] or ""))
    private_text(telegram, ALICE_ID, "/settings")
    settings = await telegram.wait_for(lambda m: "File date (Exif):" in (m["text"] or ""))
    assert "File date (Exif): on — The host applies it only when" in settings["text"]
    private_text(telegram, ALICE_ID, "/help")
    help_ = await telegram.wait_for(lambda m: "/filedate <on|off>" in (m["text"] or ""))
    assert "Telegram removes the date from photos" in help_["text"]
    private_text(telegram, BOB_ID, "/filedate on", language="zh-hans")
    chinese = await telegram.wait_for(
        lambda m: m["chat_id"] == BOB_ID and "Exif" in (m["text"] or "")
    )
    assert "仅当你的密钥属于站点管理员时" in chinese["text"]
    assert "filedate" in {c["command"] for c in telegram.commands_for("") or []}


# --- a key not the user's own ---------------------------------------------------------------


@pytest.fixture
def settings(chevereto, tmp_path, database):
    """The bot's shared key is Bob's account's, for users who linked none."""
    return core_settings(chevereto, tmp_path / "data", database, default_api_key=OTHER_KEY)


async def test_the_shared_key_line_comes_once_a_day_across_a_restart(
    settings, platform, telegram, chevereto
):
    """Alice, no key linked: her first private upload says it went up with the shared key
    and how /link keeps uploads in her account; her next ones that day do not, even after
    the bot restarted (the day's note is in the database)."""
    async with running(settings, platform, tuning=QUICK) as core:
        await telegram.wait_for_call("getUpdates")
        first = await private_photo(telegram, ALICE_ID)
        second = await private_photo(telegram, ALICE_ID)
        await eventually(lambda: all_answered(core))
    async with running(settings, platform, tuning=QUICK):
        third = await private_photo(telegram, ALICE_ID)
    assert SHARED in first["text"]
    assert "Link your own key with /link, in a private chat" in first["text"]
    assert first["text"].index("/delete/") < first["text"].index(SHARED)
    assert SHARED not in second["text"]
    assert SHARED not in third["text"]
    assert len(chevereto.upload_requests) == 3


async def test_the_shared_key_line_in_chinese_and_never_for_a_linked_user(bot, telegram):
    await bot.store.keys.link(user_ref(BOB_ID), KEY)
    linked = await private_photo(telegram, BOB_ID)
    chinese = await private_photo(telegram, ALICE_ID, language="zh-hans")
    assert "/link" not in linked["text"]
    assert SHARED_ZH in chinese["text"]


async def test_in_a_mirrored_group_the_line_goes_only_with_the_private_delete_link(bot, telegram):
    """Carol, no key, posts in a group Bob mirrors: the group's answer holds no such line;
    the delete link Carol gets privately says the admin's key was used, once."""
    await mirror_on(bot, telegram)
    carol = telegram.user(CAROL_ID, first_name="Carol")
    group = telegram.group_chat(GROUP_ID)
    for _ in range(2):
        telegram.push_update(photo_update(telegram, group, carol))
    await telegram.wait_for(
        lambda m: len([t for t in texts_to(telegram, CAROL_ID) if "/delete/" in (t or "")]) == 2
    )
    public = [t for t in texts_to(telegram, GROUP_ID) if "/image/" in (t or "")]
    private = [t for t in texts_to(telegram, CAROL_ID) if "/delete/" in (t or "")]
    assert len(public) == 2
    assert not any("/link" in t for t in public)
    assert [ADMINS in t for t in private] == [True, False]


# --- stickers --------------------------------------------------------------------------------


async def sticker_answer(telegram, user_id: int, sticker) -> dict:
    """The bot's answer to a sticker sent privately: its links or its one sentence, not a
    status message (a slow machine may show one first, then edit it into the answer)."""
    user = telegram.user(user_id)
    telegram.push_update(
        telegram.message_update(telegram.private_chat(user), user, sticker=sticker)
    )
    return await telegram.wait_for(
        lambda m: (
            m["chat_id"] == user_id
            and any(words in (m["text"] or "") for words in ("/image/", "not an image"))
        )
    )


@pytest.mark.parametrize(
    "kind",
    [("static", WEBP, "image/webp"), ("video", WEBM, "video/webm")],
    ids=["static", "video"],
)
async def test_a_sticker_sent_privately_is_uploaded(bot, telegram, chevereto, kind):
    """A static sticker goes up as a WebP image, a video sticker as a WebM video; titled by
    its emoji and set."""
    sticker_format, data, mime = kind
    await bot.store.keys.link(user_ref(ALICE_ID), KEY)
    answer = await sticker_answer(telegram, ALICE_ID, telegram.sticker(data, sticker_format))
    assert "/image/" in answer["text"]
    (upload,) = chevereto.upload_requests
    assert upload.file_type == mime
    assert upload.form["title"] == "😺 CatsOfTheWeek"
    assert upload.file_name.endswith("." + mime.split("/")[1])


async def test_an_animated_sticker_is_not_an_image(bot, telegram, chevereto):
    """A Lottie sticker (.tgs) gets the "not an image or a video" sentence; nothing is
    fetched or sent."""
    await bot.store.keys.link(user_ref(ALICE_ID), KEY)
    answer = await sticker_answer(telegram, ALICE_ID, telegram.sticker(TGS, "animated"))
    assert "not an image or a video" in answer["text"]
    assert chevereto.upload_requests == []
    assert telegram.calls_to("getFile") == []


async def test_a_sticker_without_a_set_is_titled_by_its_emoji(bot, telegram, chevereto):
    await bot.store.keys.link(user_ref(ALICE_ID), KEY)
    await sticker_answer(telegram, ALICE_ID, telegram.sticker(WEBP, set_name=None))
    assert chevereto.upload_requests[0].form["title"] == "😺"


async def test_upload_as_a_reply_to_a_sticker_in_a_group(bot, telegram, chevereto):
    """/upload replying to a sticker someone posted in a group uploads it."""
    await bot.store.keys.link(user_ref(BOB_ID), KEY)
    telegram.set_chat_member(GROUP_ID, telegram.bot_id, "administrator")
    alice, bob = telegram.user(ALICE_ID), telegram.user(BOB_ID)
    group = telegram.group_chat(GROUP_ID)
    posted = telegram.message_update(group, alice, sticker=telegram.sticker(WEBP))["message"]
    telegram.push_update(telegram.message_update(group, bob, text="/upload", reply_to=posted))
    await telegram.wait_for(lambda m: m["chat_id"] == GROUP_ID and "/image/" in (m["text"] or ""))
    assert chevereto.upload_requests[0].file_type == "image/webp"


async def test_a_mirrored_group_ignores_stickers(bot, telegram, chevereto):
    """In a mirrored group a sticker gets no upload and no answer; the photo after it does."""
    await mirror_on(bot, telegram)
    alice = telegram.user(ALICE_ID)
    group = telegram.group_chat(GROUP_ID)
    before = len(texts_to(telegram, GROUP_ID))
    sticker = telegram.push_update(
        telegram.message_update(group, alice, sticker=telegram.sticker(WEBP))
    )
    await handled(telegram, sticker)
    assert len(texts_to(telegram, GROUP_ID)) == before
    telegram.push_update(photo_update(telegram, group, alice, data=probe_png()))
    await telegram.wait_for(lambda m: m["chat_id"] == GROUP_ID and "/image/" in (m["text"] or ""))
    assert [r.file_type for r in chevereto.upload_requests] == ["image/jpeg"]
