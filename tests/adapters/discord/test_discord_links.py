"""/upload url: on Discord end to end: the real discord.py against the fake Discord and
Chevereto, the linked files served by the test on 127.0.0.1 (FETCH_PRIVATE_ADDRESSES=true)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.chevereto.probe import probe_png
from tests.conftest import KEY
from tests.support.discord_harness import (
    ALICE_ID,
    EPHEMERAL,
    SUPPRESS_EMBEDS,
    Harness,
    buttons,
    contents,
    discord_user,
    fake_fixture,  # noqa: F401 - a fixture
    harnessed,
    settings_for,
)
from tests.support.fakes.chevereto import FakeChevereto
from tests.support.fakes.discord_api import FakeDiscord
from tests.support.fakes.link_site import PAGE, SECRET_QUERY, LinkSite
from tests.support.jobs import unfinished_jobs

EITHER = "Give /upload either a file or a url, one of the two."


@pytest.fixture
async def site() -> AsyncIterator[LinkSite]:
    async with LinkSite().running() as site:
        yield site


@pytest.fixture
async def bot(
    fake: FakeDiscord, chevereto: FakeChevereto, tmp_path: Path
) -> AsyncIterator[Harness]:
    """The bot, ready on the fake, links to loopback allowed: the linked files are served here."""
    settings = settings_for(chevereto, tmp_path / "data", fetch_private_addresses=True)
    async with harnessed(fake, chevereto, settings) as bot:
        yield bot


def url_option(url: str) -> dict:
    return {"name": "url", "type": 3, "value": url}


async def test_upload_url_uploads_the_linked_file(
    bot: Harness, site: LinkSite, caplog: pytest.LogCaptureFixture
) -> None:
    """/upload url: the host stores exactly the linked bytes; the answer shows the links, the
    delete link comes ephemerally; the link reaches neither the host, nor Discord, nor the
    bot's logs."""
    caplog.set_level(logging.DEBUG, logger="bot")
    caplog.set_level(logging.DEBUG, logger="adapters")
    await bot.core.store.keys.link(discord_user(ALICE_ID), KEY)
    png = probe_png()
    url = site.serve("/art/fox", png, "image/png")

    payload = await bot.slash("upload", url_option(url))
    answer = await bot.answer_of(payload, "Short link")
    secret = await bot.answer_of(payload, "/delete/")

    (image,) = bot.chevereto.images.values()
    assert image.path.read_bytes() == png
    assert f"{bot.chevereto.url}/image/{image.id}" in answer.json["content"]
    assert "fox.png" in answer.json["content"]
    assert "/delete/" not in answer.json["content"]
    assert secret.json["flags"] == EPHEMERAL | SUPPRESS_EMBEDS
    assert buttons(secret.json)[0]["custom_id"].startswith("del:")
    assert SECRET_QUERY not in contents(bot.fake.requests)
    for request in bot.chevereto.requests:
        assert SECRET_QUERY not in str((request.path, request.query, request.headers, request.form))
    assert "fetching a link from 127.0.0.1" in caplog.text
    assert SECRET_QUERY not in caplog.text
    assert "/art/fox" not in caplog.text


async def test_upload_url_to_a_page_says_so(bot: Harness, site: LinkSite) -> None:
    """A url that gives a web page: "a page, not an image or a video"; nothing is uploaded."""
    await bot.core.store.keys.link(discord_user(ALICE_ID), KEY)
    url = site.serve("/gallery", PAGE, "text/html")

    payload = await bot.slash("upload", url_option(url))

    await bot.answer_of(payload, "That link is a page, not an image or a video.")
    assert bot.chevereto.upload_requests == []


async def test_upload_with_both_a_file_and_a_url_is_refused(bot: Harness, site: LinkSite) -> None:
    """A file and a url together: one ephemeral sentence; nothing is fetched, no job is made."""
    await bot.core.store.keys.link(discord_user(ALICE_ID), KEY)
    file = bot.fake.attachment_option("file", bot.image())
    url = site.serve("/a.png", probe_png())

    payload = await bot.slash("upload", file, url_option(url))

    answer = await bot.answer_of(payload, EITHER)
    assert answer.json["data"]["flags"] == EPHEMERAL
    assert bot.fake.downloads == []
    assert site.seen == []
    assert await unfinished_jobs(bot.core.store) == 0


async def test_upload_with_neither_a_file_nor_a_url_is_refused(bot: Harness) -> None:
    """/upload with no file and no url: the same ephemeral sentence."""
    payload = await bot.slash("upload")

    answer = await bot.answer_of(payload, EITHER)
    assert answer.json["data"]["flags"] == EPHEMERAL
    assert await unfinished_jobs(bot.core.store) == 0


async def test_a_bad_url_is_one_ephemeral_sentence(bot: Harness) -> None:
    """A url that is not an http(s) link is refused at once, ephemerally, without a job."""
    payload = await bot.slash("upload", url_option("ftp://example.com/a.png"))

    answer = await bot.answer_of(payload, "I fetch only http and https links.")
    assert answer.json["data"]["flags"] == EPHEMERAL
    assert await unfinished_jobs(bot.core.store) == 0


async def test_the_url_option_is_synced_with_its_chinese_label(bot: Harness) -> None:
    """/upload has an optional file and an optional url, each described in English and Chinese."""
    upload = next(c for c in bot.fake.commands[None] if c["name"] == "upload")
    options = {o["name"]: o for o in upload["options"]}
    assert (options["url"]["type"], options["url"].get("required", False)) == (3, False)
    assert options["file"].get("required", False) is False
    assert options["url"]["description_localizations"]["zh-CN"] == "或要上传的图片或视频的链接"
