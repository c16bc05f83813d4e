"""What a real Chevereto 4.2 does, met through Telegram: a short URL equal to the viewer URL,
videos told apart by their part's type, the host's own size limit, its session cookies, and
URLs in its answer that are not http(s)."""

from __future__ import annotations

import logging
import secrets

import pytest

from bot.chevereto.probe import probe_png
from bot.domain import UserRef
from tests.conftest import KEY, OTHER_KEY
from tests.support.fakes.telegram_api import FakeTelegram
from tests.support.running import QUICK, running
from tests.support.settings import core_settings
from tests.support.telegram_harness import (
    action_buttons,
    assert_delete_links_private,
    telegram_for,
    url_buttons,
)

ALICE_ID, BOB_ID = 1001, 1002
MB = 1024 * 1024


@pytest.fixture
async def telegram():
    async with FakeTelegram() as fake:
        yield fake
        assert_delete_links_private(fake)


@pytest.fixture
async def bot(chevereto, telegram, tmp_path):
    settings = core_settings(chevereto, tmp_path / "data")
    async with running(settings, telegram_for(telegram), tuning=QUICK) as core:
        await core.store.keys.link(UserRef("telegram", str(ALICE_ID)), KEY)
        await core.store.keys.link(UserRef("telegram", str(BOB_ID)), OTHER_KEY)
        yield core


def mp4() -> bytes:
    """The head of an MP4 (what the host sniffs), unique."""
    return b"\x00\x00\x00\x18ftypmp42" + secrets.token_bytes(64)


async def send(telegram: FakeTelegram, user_id: int, **media: object) -> dict:
    """A private message carrying ``media``; returns the bot's answer: the links and the delete
    link (or its refusal)."""
    user = telegram.user(user_id)
    telegram.push_update(telegram.message_update(telegram.private_chat(user), user, **media))
    return await telegram.wait_for(
        lambda m: (
            m["chat_id"] == user_id
            and ("/image/" in (m["text"] or "") or "host" in (m["text"] or ""))
        )
    )


async def test_a_short_url_equal_to_the_viewer_url_is_shown_once(bot, telegram, chevereto):
    """A site without short links: the answer has the URL once, and one link button (beside
    the Delete button)."""
    chevereto.short_links = False
    answer = await send(telegram, ALICE_ID, photo=telegram.add_file(probe_png()))
    (image,) = chevereto.images.values()
    viewer = f"{chevereto.url}/image/{image.id}"
    lines = answer["text"].splitlines()
    assert lines.count(viewer) == 1
    assert [line for line in lines if line.startswith(chevereto.url)] == [
        viewer,
        f"{viewer}/delete/{image.delete_hash}",
    ]
    assert url_buttons(answer) == [viewer]
    assert len(action_buttons(answer)) == 1


async def test_a_short_url_is_shown_beside_the_viewer_url(bot, telegram, chevereto):
    """A site with short links: both, as text and as buttons."""
    answer = await send(telegram, ALICE_ID, photo=telegram.add_file(probe_png()))
    (image,) = chevereto.images.values()
    viewer, short = f"{chevereto.url}/image/{image.id}", f"{chevereto.url}/{image.id}"
    assert url_buttons(answer) == [viewer, short]
    assert short in answer["text"].splitlines()


@pytest.mark.parametrize(
    "declared",
    ["video/mp4", "application/octet-stream"],
    ids=["typed", "untyped"],
)
async def test_a_video_goes_out_as_a_video(bot, telegram, chevereto, declared):
    """A Telegram video reaches the host as ``video/*`` even when Telegram typed it
    ``application/octet-stream``; the host (which refuses such a video, code 610) takes it."""
    ref = telegram.add_file(mp4(), mime_type=declared)
    answer = await send(telegram, ALICE_ID, video=ref)
    assert "/image/" in answer["text"]
    (request,) = chevereto.upload_requests
    assert request.file_type == "video/mp4"
    assert [image.type for image in chevereto.images.values()] == ["video"]


async def test_a_video_document_named_mp4_goes_out_as_a_video(bot, telegram, chevereto):
    """A video sent as a file, typed ``application/octet-stream``: its name gives its type."""
    ref = telegram.add_file(mp4(), file_name="clip.mp4", mime_type="application/octet-stream")
    answer = await send(telegram, ALICE_ID, document=ref)
    assert "/image/" in answer["text"]
    assert chevereto.upload_requests[0].file_type == "video/mp4"


async def test_the_hosts_size_limit_is_named(bot, telegram, chevereto):
    """``File too big - max 1 MB`` from the host: the user's sentence names 1 MB."""
    chevereto.max_size_mb = 1
    big = probe_png() + b"\0" * (2 * MB)
    answer = await send(telegram, ALICE_ID, photo=telegram.add_file(big))
    assert answer["text"] == "That file is larger than the host accepts (1 MB)."


async def test_no_cookie_goes_from_one_users_upload_to_the_next(bot, telegram, chevereto):
    """The host sets PHPSESSID on every answer; Bob's upload after Alice's carries no Cookie."""
    await send(telegram, ALICE_ID, photo=telegram.add_file(probe_png()))
    await send(telegram, BOB_ID, photo=telegram.add_file(probe_png()))
    first, second = chevereto.upload_requests
    assert first.headers["x-api-key"] == KEY
    assert second.headers["x-api-key"] == OTHER_KEY
    assert "cookie" not in second.headers


SCRIPT = "javascript:alert(document.cookie)"
DATA = "data:text/html,<script>alert(1)</script>"


def url_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "bot.chevereto.urls"]


async def test_a_script_viewer_url_goes_out_as_the_short_link_alone(
    bot, telegram, chevereto, caplog
):
    """A ``javascript:`` viewer URL: the answer carries the short link in its place, as text and
    as the one link button (Telegram takes it), beside the delete link and its button; one
    WARNING names the field."""
    chevereto.urls_next({"url_viewer": SCRIPT})
    with caplog.at_level(logging.WARNING):
        answer = await send(telegram, ALICE_ID, photo=telegram.add_file(probe_png()))
    (image,) = chevereto.images.values()
    short = f"{chevereto.url}/{image.id}"
    assert url_buttons(answer) == [short]
    assert short in answer["text"].splitlines()
    assert "javascript" not in answer["text"]
    assert f"/image/{image.id}/delete/{image.delete_hash}" in answer["text"]
    assert len(action_buttons(answer)) == 1
    (line,) = url_warnings(caplog)
    assert "url_viewer" in line
    assert "javascript" not in caplog.text


async def test_a_data_short_url_leaves_the_viewer_alone(bot, telegram, chevereto):
    """A ``data:`` short URL: the viewer URL alone, as text and as the one link button."""
    chevereto.urls_next({"url_short": DATA})
    answer = await send(telegram, ALICE_ID, photo=telegram.add_file(probe_png()))
    (image,) = chevereto.images.values()
    assert url_buttons(answer) == [f"{chevereto.url}/image/{image.id}"]
    assert "data:" not in answer["text"]


async def test_no_usable_link_says_the_file_is_on_the_host(bot, telegram, chevereto):
    """Neither link usable: the answer says the file is on the host without a link to show, with
    no link button, and still gives the delete link and its button."""
    chevereto.urls_next({"url_viewer": SCRIPT, "url_short": DATA})
    answer = await send(telegram, ALICE_ID, photo=telegram.add_file(probe_png()))
    first = answer["text"].splitlines()[0]
    assert first.endswith(" is on the host, but the host gave no link I can show.")
    assert url_buttons(answer) == []
    assert "/delete/" in answer["text"]
    assert len(action_buttons(answer)) == 1


async def test_no_usable_link_is_said_in_chinese(bot, telegram, chevereto):
    """The same answer for a user whose Telegram speaks Simplified Chinese."""
    chevereto.urls_next({"url_viewer": SCRIPT, "url_short": DATA})
    user = telegram.user(ALICE_ID, language_code="zh-hans")
    ref = telegram.add_file(probe_png())
    telegram.push_update(telegram.message_update(telegram.private_chat(user), user, photo=ref))
    answer = await telegram.wait_for(lambda m: "/delete/" in (m["text"] or ""))
    assert (
        answer["text"].splitlines()[0].endswith(" 已上传到图床，但图床没有给出我可以显示的链接。")
    )


async def test_a_bad_delete_link_gives_no_delete_link_nor_button(bot, telegram, chevereto):
    """A ``data:`` delete link: the links go out, with no delete link and no Delete button."""
    chevereto.urls_next({"delete_url": DATA})
    answer = await send(telegram, ALICE_ID, photo=telegram.add_file(probe_png()))
    (image,) = chevereto.images.values()
    assert url_buttons(answer) == [
        f"{chevereto.url}/image/{image.id}",
        f"{chevereto.url}/{image.id}",
    ]
    assert "Delete link" not in answer["text"]
    assert action_buttons(answer) == []
