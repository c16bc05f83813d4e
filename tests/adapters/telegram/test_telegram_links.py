"""Links on Telegram end to end: real python-telegram-bot, the fake Bot API, the fake Chevereto,
and the linked files served by the test on 127.0.0.1 (FETCH_PRIVATE_ADDRESSES=true, as the
tests live on loopback; the refusal tests run without it)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

import pytest

from bot.chevereto.probe import probe_png
from tests.conftest import KEY
from tests.support.fakes.link_site import PAGE, SECRET_QUERY, LinkSite, watch_connections
from tests.support.running import QUICK, running
from tests.support.settings import core_settings
from tests.support.telegram_harness import (
    ALICE_ID,
    GROUP_ID,
    action_buttons,
    all_answered,
    handled,
    mirror_on,
    telegram_for,
    texts_to,
    url_buttons,
    user_ref,
)
from tests.support.waiting import eventually

PAGE_SENTENCE = "That link is a page, not an image or a video."
REFUSED_SENTENCE = "That link leads to a private or local network address, which I do not fetch."


@pytest.fixture
def settings(chevereto, tmp_path, database):
    """The core's settings, links to loopback allowed: the linked files are served here."""
    return core_settings(chevereto, tmp_path / "data", database, fetch_private_addresses=True)


@pytest.fixture
def strict_settings(chevereto, tmp_path, database):
    """The core's settings as they come: links to private and loopback addresses refused."""
    return core_settings(chevereto, tmp_path / "data", database)


@pytest.fixture
async def site():
    async with LinkSite().running() as site:
        yield site


@pytest.fixture
def logs(caplog):
    """Every log line, at the levels production keeps with LOG_LEVEL=DEBUG (``setup_logging``):
    the HTTP clients at WARNING, the SDK at INFO."""
    caplog.set_level(logging.DEBUG)
    for quiet in ("httpx", "httpcore", "aiosqlite", "asyncio"):
        caplog.set_level(logging.WARNING, logger=quiet)
    caplog.set_level(logging.INFO, logger="telegram")
    return caplog


def said(telegram, chat_id: int, text: str) -> bool:
    return any(text in message for message in texts_to(telegram, chat_id))


async def test_a_private_link_is_uploaded_and_answered_once(bot, telegram, chevereto, site, logs):
    """A private message that is one link: the host stores exactly the linked bytes, and Alice
    gets one answer (previews off) with the links, the delete link and its Delete button. The
    link reaches neither the host nor the logs."""
    await bot.store.keys.link(user_ref(ALICE_ID), KEY)
    png = probe_png()
    url = site.serve("/photos/beach", png, "image/png")
    alice = telegram.user(ALICE_ID)

    telegram.push_update(telegram.message_update(telegram.private_chat(alice), alice, text=url))
    answer = await telegram.wait_for(lambda m: "/delete/" in (m["text"] or ""))
    await eventually(lambda: all_answered(bot))

    assert telegram.sent == [answer]
    (image,) = chevereto.images.values()
    assert image.path.read_bytes() == png
    viewer = f"{chevereto.url}/image/{image.id}"
    assert url_buttons(answer) == [viewer, f"{chevereto.url}/{image.id}"]
    assert action_buttons(answer)[0].startswith("del:")
    assert answer["preview_disabled"]
    assert "beach.png" in answer["text"]
    assert chevereto.upload_requests[0].file_name == "beach.png"
    for request in chevereto.requests:
        seen = str((request.path, request.query, request.headers, request.form))
        assert SECRET_QUERY not in seen
        assert "/photos/beach" not in seen
    assert "fetching a link from 127.0.0.1" in logs.text
    assert SECRET_QUERY not in logs.text
    assert "/photos/beach" not in logs.text


async def test_upload_with_a_link_in_a_group(bot, telegram, chevereto, site):
    """/upload <link> in a group: the public answer there, the delete link to Alice in private."""
    await bot.store.keys.link(user_ref(ALICE_ID), KEY)
    png = probe_png()
    url = site.serve("/a.png", png)
    alice = telegram.user(ALICE_ID)

    telegram.push_update(
        telegram.message_update(telegram.group_chat(GROUP_ID), alice, text=f"/upload {url}")
    )
    public = await telegram.wait_for(
        lambda m: m["chat_id"] == GROUP_ID and "/image/" in (m["text"] or "")
    )
    secret = await telegram.wait_for(lambda m: "/delete/" in (m["text"] or ""))

    assert "/delete/" not in public["text"]
    assert secret["chat_id"] == ALICE_ID
    assert secret["preview_disabled"]
    (image,) = chevereto.images.values()
    assert image.path.read_bytes() == png


async def test_a_link_to_a_page_is_one_sentence(bot, telegram, chevereto, site):
    """A link to a web page is answered "a page, not an image or a video"; nothing is uploaded."""
    await bot.store.keys.link(user_ref(ALICE_ID), KEY)
    url = site.serve("/gallery/42", PAGE, "text/html")
    alice = telegram.user(ALICE_ID)

    telegram.push_update(telegram.message_update(telegram.private_chat(alice), alice, text=url))
    await telegram.wait_for(lambda m: PAGE_SENTENCE in (m["text"] or ""))
    await eventually(lambda: all_answered(bot))

    assert chevereto.upload_requests == []


LOOPBACK_FORMS = [
    "127.0.0.1",
    "127.0.0.2",
    "[::1]",
    "[::ffff:127.0.0.1]",
    "2130706433",
    "localhost",
]
"""This machine, as a link may write it: each is refused without FETCH_PRIVATE_ADDRESSES. No
test names an address off the machine, so even a guard with a bug could not send anything
away."""


@pytest.mark.parametrize("host", LOOPBACK_FORMS)
async def test_a_link_to_this_machine_is_refused_unconnected(
    strict_settings, telegram, site, monkeypatch, host
):
    """Without FETCH_PRIVATE_ADDRESSES, a link to the tests' own server, in any loopback form,
    is refused in one sentence before any request reaches it; nothing is uploaded."""
    connections = watch_connections(monkeypatch)
    site.serve("/x.png", probe_png())
    url = f"http://{host}:{site.port}/x.png"
    alice = telegram.user(ALICE_ID)
    async with running(strict_settings, telegram_for(telegram), tuning=QUICK) as core:
        await core.store.keys.link(user_ref(ALICE_ID), KEY)
        telegram.push_update(
            telegram.message_update(telegram.private_chat(alice), alice, text=f"/upload {url}")
        )
        await telegram.wait_for(lambda m: REFUSED_SENTENCE in (m["text"] or ""))
        await eventually(lambda: all_answered(core))
        assert await core.store.uploads.history(user_ref(ALICE_ID)) == []

    assert all(port != site.port for _, port in connections)
    assert site.seen == []


async def test_a_redirected_link_is_followed_and_uploaded(bot, telegram, chevereto, site):
    """A link that redirects twice, each hop checked, ends at the file, which is uploaded."""
    await bot.store.keys.link(user_ref(ALICE_ID), KEY)
    png = probe_png()
    site.serve("/final.png", png, "image/png")
    site.redirect("/second", f"http://127.0.0.1:{site.port}/final.png", status=301)
    url = site.redirect("/first", "/second")
    alice = telegram.user(ALICE_ID)

    telegram.push_update(telegram.message_update(telegram.private_chat(alice), alice, text=url))
    await telegram.wait_for(lambda m: "/delete/" in (m["text"] or ""))

    (image,) = chevereto.images.values()
    assert image.path.read_bytes() == png
    assert [seen.split("?")[0] for seen in site.seen] == ["/first", "/second", "/final.png"]


@pytest.mark.parametrize("fault", ["lying", "stalling"])
async def test_a_server_that_lies_or_stalls_is_tried_again_then_one_sentence(
    settings, telegram, chevereto, site, fault
):
    """A server that sends fewer bytes than it declared, or stops sending: the user hears the
    bot will try again, then, the server failing every attempt, that it could not be reached;
    the host got no incomplete file."""
    head = probe_png()
    if fault == "lying":
        url = site.lying("/a.png", head, declared=len(head) * 4)
    else:
        url = site.stalling("/a.png", head)
    alice = telegram.user(ALICE_ID)
    # 2 s: the stalling server is given up on after it; a loaded machine still reaches the
    # server within it (at 0.5 s a third attempt was once cut before its request got there)
    tuning = replace(QUICK, link_timeout=2.0)
    async with running(settings, telegram_for(telegram), tuning=tuning) as core:
        await core.store.keys.link(user_ref(ALICE_ID), KEY)
        telegram.push_update(telegram.message_update(telegram.private_chat(alice), alice, text=url))
        await telegram.wait_for(lambda m: "could not be reached" in (m["text"] or ""), timeout=45)
        await eventually(lambda: all_answered(core))
    told = texts_to(telegram, ALICE_ID)
    assert any("The server of that link is not answering; trying again" in t for t in told)
    assert chevereto.images == {}
    assert len([seen for seen in site.seen if seen.startswith("/a.png")]) == 3


async def test_a_link_in_a_mirrored_group_is_not_fetched(bot, telegram, chevereto, site):
    """In a mirrored group only posted files are mirrored: a link posted there is left alone."""
    await mirror_on(bot, telegram)
    await bot.store.keys.link(user_ref(ALICE_ID), KEY)
    url = site.serve("/a.png", probe_png())
    before = len(telegram.sent)
    alice = telegram.user(ALICE_ID)

    update_id = telegram.push_update(
        telegram.message_update(telegram.group_chat(GROUP_ID), alice, text=url)
    )
    await handled(telegram, update_id)
    await asyncio.sleep(0.3)

    assert site.seen == []
    assert chevereto.upload_requests == []
    assert len(telegram.sent) == before
    assert await all_answered(bot)


@pytest.mark.parametrize(
    ("argument", "sentence"),
    [
        ("ftp://example.com/a.png", "I fetch only http and https links."),
        ("https://user:pw@example.com/a.png", "I do not fetch links that hold a user name"),
        ("two words", "That is not one http or https link."),
    ],
)
async def test_upload_with_a_bad_link_says_why(bot, telegram, chevereto, argument, sentence):
    """/upload with an argument that is not a link the bot fetches: one sentence, no job."""
    alice = telegram.user(ALICE_ID)

    telegram.push_update(
        telegram.message_update(telegram.private_chat(alice), alice, text=f"/upload {argument}")
    )
    await telegram.wait_for(lambda m: sentence in (m["text"] or ""))

    assert await all_answered(bot)
    assert chevereto.upload_requests == []


async def test_text_that_is_not_only_a_link_is_not_media(bot, telegram, site):
    """A private message with words besides a link is no upload request: the usual sentence."""
    alice = telegram.user(ALICE_ID)
    url = site.serve("/a.png", probe_png())

    telegram.push_update(
        telegram.message_update(telegram.private_chat(alice), alice, text=f"look {url}")
    )
    await telegram.wait_for(lambda m: said(telegram, ALICE_ID, "not an image or a video"))

    assert site.seen == []
