"""Inline mode end to end: real python-telegram-bot, fake Bot API, fake Chevereto, and the
upload history on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import secrets

import pytest

from bot.chevereto.probe import probe_png
from tests.conftest import KEY, OTHER_KEY
from tests.support.fakes.chevereto import FakeChevereto
from tests.support.fakes.telegram_api import FakeTelegram
from tests.support.settings import core_settings
from tests.support.telegram_harness import (
    ALICE_ID,
    BOB_ID,
    action_buttons,
    buttons,
    photo_update,
    user_ref,
)

JSON = dict[str, object]


def mp4() -> bytes:
    """The start of an MP4 (its ``ftyp`` box), unique so the host never sees it twice."""
    return b"\x00\x00\x00\x18ftypmp42" + secrets.token_bytes(64)


@pytest.fixture(autouse=True)
def inline_mode_on(telegram):
    """Inline mode switched on with BotFather's /setinline (Telegram's default is off)."""
    telegram.inline_mode = True


async def upload(telegram: FakeTelegram, user_id: int, caption: str, **media: object) -> JSON:
    """A private message with ``media`` (a new PNG by default) captioned ``caption``; returns
    the bot's answer, which holds the delete link and comes once the upload is recorded."""
    user = telegram.user(user_id)
    chat = telegram.private_chat(user)
    done = len(_answers(telegram, user_id))
    if media:
        update = telegram.message_update(chat, user, caption=caption, **media)
    else:
        update = photo_update(telegram, chat, user, caption=caption)
    telegram.push_update(update)
    await telegram.wait_for(lambda _: len(_answers(telegram, user_id)) > done)
    return _answers(telegram, user_id)[done]


def _answers(telegram: FakeTelegram, user_id: int) -> list[JSON]:
    return [m for m in telegram.sent if m["chat_id"] == user_id and "/delete/" in (m["text"] or "")]


async def ask(telegram: FakeTelegram, user_id: int, query: str, language: str = "en") -> JSON:
    """``@bot <query>`` typed by the user, whose client speaks ``language``; the answer
    Telegram took for it."""
    update = telegram.inline_query_update(telegram.user(user_id, language_code=language), query)
    telegram.push_update(update)
    return await telegram.inline_answer(update)


def by_title(chevereto: FakeChevereto, title: str):
    return next(i for i in chevereto.images.values() if i.options["title"] == title)


@pytest.fixture
async def alice(bot, telegram):
    """Alice, with a key, uploaded "cat on a mat" then "dog"."""
    await bot.store.keys.link(user_ref(ALICE_ID), KEY)
    await upload(telegram, ALICE_ID, "cat on a mat")
    await upload(telegram, ALICE_ID, "dog")


async def test_words_find_the_matching_upload_as_a_photo(alice, telegram, chevereto):
    """``@bot cat``: the cat alone, a photo of its file link with its thumbnail, captioned with
    its viewer URL; personal, and cached for a few seconds only."""
    answer = await ask(telegram, ALICE_ID, "cat")
    cat = by_title(chevereto, "cat on a mat")
    (result,) = answer["results"]
    assert result["type"] == "photo"
    assert result["photo_url"] == f"{chevereto.url}/images/{cat.id}.png"
    assert result["thumbnail_url"] == f"{chevereto.url}/images/{cat.id}.th.png"
    assert result["caption"] == f"{chevereto.url}/image/{cat.id}"
    assert answer["is_personal"] is True
    assert 0 < answer["cache_time"] <= 30
    assert "button" not in answer


async def test_no_words_give_every_upload_newest_first(alice, telegram, chevereto):
    """``@bot`` alone: both uploads, the newest first, each with an id of its own."""
    answer = await ask(telegram, ALICE_ID, "")
    dog, cat = by_title(chevereto, "dog"), by_title(chevereto, "cat on a mat")
    captions = [result["caption"] for result in answer["results"]]
    assert captions == [f"{chevereto.url}/image/{i.id}" for i in (dog, cat)]
    assert len({result["id"] for result in answer["results"]}) == 2


async def test_no_delete_link_in_any_answer(alice, telegram, chevereto):
    """No field of any answerInlineQuery call holds a delete link or its secret."""
    await ask(telegram, ALICE_ID, "")
    await ask(telegram, ALICE_ID, "cat")
    calls = telegram.calls_to("answerInlineQuery")
    assert len(calls) == 2
    everything = json.dumps(calls)
    assert "/delete/" not in everything
    assert all(image.delete_hash not in everything for image in chevereto.images.values())


async def test_someone_else_sees_none_of_alices_uploads(alice, telegram):
    """Bob, with a key but no uploads, finds nothing, even with Alice's words; he is offered
    the private chat instead, in his language."""
    for words in ("", "cat"):
        answer = await ask(telegram, BOB_ID, words, language="zh-hans")
        assert answer["results"] == []
        assert answer["button"] == {"text": "没有找到上传 — 切换到私聊", "start_parameter": "start"}
        assert answer["is_personal"] is True


async def test_no_match_offers_the_private_chat(alice, telegram):
    """Words no upload holds: no results, and a button to the private chat instead."""
    answer = await ask(telegram, ALICE_ID, "bird")
    assert answer["results"] == []
    assert answer["button"] == {
        "text": "No uploads found — switch to a private chat",
        "start_parameter": "start",
    }


async def test_a_video_comes_back_as_a_video(bot, telegram, chevereto):
    """A video: its file link as video/mp4, the thumbnail the host made of a frame, a title."""
    await bot.store.keys.link(user_ref(ALICE_ID), KEY)
    await upload(
        telegram, ALICE_ID, "a clip", video=telegram.add_file(mp4(), mime_type="video/mp4")
    )
    (result,) = (await ask(telegram, ALICE_ID, "clip"))["results"]
    clip = by_title(chevereto, "a clip")
    assert result["type"] == "video"
    assert result["video_url"] == f"{chevereto.url}/images/{clip.id}.mp4"
    assert result["mime_type"] == "video/mp4"
    assert result["thumbnail_url"] == f"{chevereto.url}/images/{clip.id}.th.jpeg"
    assert result["title"] == "a clip"
    assert result["caption"] == f"{chevereto.url}/image/{clip.id}"


async def test_a_gif_comes_back_as_a_gif(bot, telegram, chevereto):
    """A GIF (its file link ends in .gif): a GIF result, its GIF thumbnail typed as such."""
    await bot.store.keys.link(user_ref(ALICE_ID), KEY)
    gif = b"GIF89a" + probe_png()[8:]
    ref = telegram.add_file(gif, file_name="wave.gif", mime_type="image/gif")
    await upload(telegram, ALICE_ID, "waving", document=ref)
    (result,) = (await ask(telegram, ALICE_ID, "wav"))["results"]
    wave = by_title(chevereto, "waving")
    assert result["type"] == "gif"
    assert result["gif_url"] == f"{chevereto.url}/images/{wave.id}.gif"
    assert result["thumbnail_url"] == f"{chevereto.url}/images/{wave.id}.th.gif"
    assert result["thumbnail_mime_type"] == "image/gif"


async def test_an_image_without_a_thumbnail_shows_itself(bot, telegram, chevereto):
    """A host that made no thumbnail (a small image): the file link is the thumbnail too."""
    chevereto.thumbnails = False
    await bot.store.keys.link(user_ref(ALICE_ID), KEY)
    await upload(telegram, ALICE_ID, "tiny")
    (result,) = (await ask(telegram, ALICE_ID, "tiny"))["results"]
    assert result["thumbnail_url"] == result["photo_url"]


async def test_a_thumbnail_url_not_http_is_replaced_by_the_file(bot, telegram, chevereto):
    """A ``data:`` thumbnail URL from the host is not offered: the file link is the thumbnail."""
    chevereto.urls_next({"thumb.url": "data:image/png;base64,AAAA"})
    await bot.store.keys.link(user_ref(ALICE_ID), KEY)
    await upload(telegram, ALICE_ID, "odd")
    (result,) = (await ask(telegram, ALICE_ID, "odd"))["results"]
    assert result["thumbnail_url"] == result["photo_url"]


async def test_an_upload_without_a_link_to_show_has_no_caption(bot, telegram, chevereto):
    """An upload whose viewer and short URLs were not http(s) is offered without a caption."""
    chevereto.urls_next({"url_viewer": "javascript:x", "url_short": "javascript:y"})
    await bot.store.keys.link(user_ref(ALICE_ID), KEY)
    await upload(telegram, ALICE_ID, "bare")
    (result,) = (await ask(telegram, ALICE_ID, "bare"))["results"]
    assert result["type"] == "photo"
    assert "caption" not in result


async def test_a_deleted_upload_is_not_shown(alice, telegram, chevereto):
    """Deleted with its Delete button: the cat is no longer offered; the dog still is."""
    cat_answer, user = _answers(telegram, ALICE_ID)[0], telegram.user(ALICE_ID)
    telegram.push_update(telegram.callback_query(user, cat_answer, action_buttons(cat_answer)[0]))
    sure = await telegram.wait_for(lambda m: "cannot be undone" in (m["text"] or ""))
    confirm = next(
        b["callback_data"] for b in buttons(sure) if b["callback_data"].startswith("delok:")
    )
    dog_viewer = f"{chevereto.url}/image/{by_title(chevereto, 'dog').id}"
    telegram.push_update(telegram.callback_query(user, sure, confirm))
    await telegram.wait_for(lambda m: "is deleted from the host" in (m["text"] or ""))
    assert (await ask(telegram, ALICE_ID, "cat"))["results"] == []
    (dog,) = (await ask(telegram, ALICE_ID, ""))["results"]
    assert dog["caption"] == dog_viewer


async def test_an_upload_marked_deleted_is_not_shown(alice, bot, telegram):
    """Deleted by any other path the store knows of (``mark_deleted``): not offered either."""
    (latest,) = await bot.store.uploads.history(user_ref(ALICE_ID), limit=1)
    await bot.store.uploads.mark_deleted(latest.id)
    (cat,) = (await ask(telegram, ALICE_ID, ""))["results"]
    assert cat["id"] != str(latest.id)


async def test_like_wildcards_match_literally(bot, telegram, chevereto):
    """``%`` finds the title holding a percent sign, not every upload."""
    await bot.store.keys.link(user_ref(ALICE_ID), KEY)
    await upload(telegram, ALICE_ID, "100% cat")
    await upload(telegram, ALICE_ID, "dog")
    (result,) = (await ask(telegram, ALICE_ID, "%"))["results"]
    assert result["caption"].endswith(f"/image/{by_title(chevereto, '100% cat').id}")


class TestAccessLists:
    """With ALLOWED_USERS set, someone not listed gets an empty answer: no results, no button."""

    @pytest.fixture
    def settings(self, chevereto, tmp_path, database):
        return core_settings(
            chevereto, tmp_path / "data", database, allowed_users=f"telegram:{ALICE_ID}"
        )

    async def test_someone_not_listed_gets_nothing(self, bot, telegram):
        """Bob, not listed, even with a key: an empty answer; Alice, listed, gets hers."""
        await bot.store.keys.link(user_ref(BOB_ID), OTHER_KEY)
        await bot.store.keys.link(user_ref(ALICE_ID), KEY)
        await upload(telegram, ALICE_ID, "cat")
        answer = await ask(telegram, BOB_ID, "")
        assert answer["results"] == []
        assert "button" not in answer
        assert (await ask(telegram, ALICE_ID, ""))["results"] != []
