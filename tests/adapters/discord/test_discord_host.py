"""What a real Chevereto 4.2 does, met through Discord: a short URL equal to the viewer URL,
videos told apart by their part's type, the host's own size limit, its session cookies, URLs
in its answer that are not http(s), and a proxy in front of it refusing the size."""

from __future__ import annotations

import logging
import secrets

import pytest

from bot.chevereto.probe import probe_png
from tests.conftest import KEY, OTHER_KEY
from tests.support.discord_harness import (
    ALICE_ID,
    BOB_ID,
    Harness,
    bot_fixture,  # noqa: F401 - a fixture
    buttons,
    discord_user,
    fake_fixture,  # noqa: F401 - a fixture
)
from tests.support.fakes.discord_api import RecordedRequest

MB = 1024 * 1024


def mp4() -> bytes:
    """The head of an MP4 (what the host sniffs), unique."""
    return b"\x00\x00\x00\x18ftypmp42" + secrets.token_bytes(64)


async def upload(bot: Harness, attachment: dict, user_id: int = ALICE_ID) -> dict:
    """/upload of ``attachment`` by a user with a linked key; returns the interaction."""
    key = KEY if user_id == ALICE_ID else OTHER_KEY
    await bot.core.store.keys.link(discord_user(user_id), key)
    file = bot.fake.attachment_option("file", attachment)
    return await bot.slash("upload", file, user_id=user_id)


async def answer(bot: Harness, payload: dict, text: str) -> RecordedRequest:
    """The first answer to ``payload`` holding ``text`` that is not the delete-link follow-up."""

    def public(request: RecordedRequest) -> bool:
        content = str(request.json)
        return payload["token"] in request.path and text in content and "/delete/" not in content

    return await bot.answered(public, timeout=15)


async def test_a_short_url_equal_to_the_viewer_url_is_shown_once(bot: Harness) -> None:
    """A site without short links: the answer has the URL once, and one link button."""
    bot.chevereto.short_links = False
    payload = await upload(bot, bot.image())
    public = await answer(bot, payload, "/image/")
    (image,) = bot.chevereto.images.values()
    viewer = f"{bot.chevereto.url}/image/{image.id}"
    assert public.json["content"].count(viewer) == 1
    assert [b["url"] for b in buttons(public.json)] == [viewer]


@pytest.mark.parametrize("declared", ["video/mp4", None], ids=["typed", "untyped"])
async def test_a_video_goes_out_as_a_video(bot: Harness, declared: str | None) -> None:
    """A video attachment reaches the host as ``video/mp4``, also when Discord gave it no type
    (its name says it); the host (which refuses an untyped video, code 610) takes it."""
    video = bot.fake.add_attachment(mp4(), filename="clip.mp4", content_type=declared)
    payload = await upload(bot, video)
    await answer(bot, payload, "/image/")
    (request,) = bot.chevereto.upload_requests
    assert request.file_type == "video/mp4"
    assert [image.type for image in bot.chevereto.images.values()] == ["video"]


async def test_the_hosts_size_limit_is_named(bot: Harness) -> None:
    """``File too big - max 1 MB`` from the host: the user's sentence names 1 MB."""
    bot.chevereto.max_size_mb = 1
    payload = await upload(bot, bot.image("big.png", probe_png() + b"\0" * (2 * MB)))
    await answer(bot, payload, "larger than the host accepts (1 MB)")


async def test_no_cookie_goes_from_one_users_upload_to_the_next(bot: Harness) -> None:
    """The host sets PHPSESSID on every answer; Bob's upload after Alice's carries no Cookie."""
    await answer(bot, await upload(bot, bot.image("a.png")), "/image/")
    await answer(bot, await upload(bot, bot.image("b.png"), user_id=BOB_ID), "/image/")
    first, second = bot.chevereto.upload_requests
    assert (first.headers["x-api-key"], second.headers["x-api-key"]) == (KEY, OTHER_KEY)
    assert "cookie" not in second.headers


async def test_a_script_viewer_url_goes_out_as_the_short_link_alone(
    bot: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """A ``javascript:`` viewer URL: the public answer carries the short link in its place, as
    text and as the one link button (Discord takes it); one WARNING names the field."""
    bot.chevereto.urls_next({"url_viewer": "javascript:alert(document.cookie)"})
    with caplog.at_level(logging.WARNING):
        payload = await upload(bot, bot.image())
        public = await answer(bot, payload, bot.chevereto.url)
    (image,) = bot.chevereto.images.values()
    short = f"{bot.chevereto.url}/{image.id}"
    assert [b["url"] for b in buttons(public.json)] == [short]
    assert short in public.json["content"]
    assert "javascript" not in public.json["content"]
    (line,) = [r.getMessage() for r in caplog.records if r.name == "bot.chevereto.urls"]
    assert "url_viewer" in line
    assert "javascript" not in caplog.text


async def test_a_proxy_413_is_told_in_chinese(bot: Harness) -> None:
    """A proxy's 413 page, for a user whose Discord speaks Chinese: the sentence that the site's
    proxy refuses files this large, in Chinese, after one try."""
    bot.chevereto.proxy_413_next(times=3)
    await bot.core.store.keys.link(discord_user(ALICE_ID), KEY)
    file = bot.fake.attachment_option("file", bot.image())
    payload = await bot.slash("upload", file, locale="zh-CN")
    await bot.answer_of(payload, "网站的代理拒绝这么大的文件")
    assert len(bot.chevereto.upload_requests) == 1
