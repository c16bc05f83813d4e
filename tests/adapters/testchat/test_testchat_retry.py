"""Feedback while retrying, on the test platform: built on ``bot.platform`` alone, it shows the
status message, edits it into the answer (in a private chat, the one answer with its delete
links), and finds it again after a restart."""

from __future__ import annotations

import pytest

from bot.chevereto.probe import probe_png
from bot.domain import UserRef
from tests.conftest import KEY, OTHER_KEY
from tests.support.chat_platform.settings import ChatSettings
from tests.support.fakes.chat_api import FakeChat, Sent
from tests.support.retrying import (
    FEEDBACK_WITHIN_S,
    HOST_UNAVAILABLE,
    LAST_NOTE,
    NOTE,
    PAUSED,
    PAUSED_NOTE,
    due_now,
    waiting_to_retry,
)
from tests.support.running import FAST, running
from tests.support.settings import core_settings
from tests.support.waiting import eventually

ALICE, BOB, GROUP = "1001", "1002", "g-500"


@pytest.fixture
async def chat():
    async with FakeChat() as fake:
        yield fake
        assert fake.leaks() == []


@pytest.fixture
def settings(chevereto, tmp_path):
    return core_settings(chevereto, tmp_path / "data")


@pytest.fixture
def platform(chat):
    return ChatSettings(_env_file=None, url=chat.url)  # type: ignore[call-arg]


def photo(name: str = "photo.png") -> tuple[str, str, bytes]:
    return name, "image/png", probe_png()


async def post(core, chat: FakeChat, where: str) -> str:
    """Alice posts a photo (two as an album) in private, or in a group Bob mirrors; its chat."""
    await core.store.keys.link(UserRef("testchat", ALICE), KEY)
    alice = chat.user(ALICE)
    if where == "group":
        await core.store.keys.link(UserRef("testchat", BOB), OTHER_KEY)
        bob = chat.user(BOB)
        group = chat.group(GROUP, admins=[bob])
        chat.post(bob, group, "/mirror on")
        await chat.wait_for(lambda m: "Mirroring is on" in m.text)
        chat.post(alice, group, files=[photo()])
        return GROUP
    album = "alb1" if where == "album" else None
    for name in ["a.png", "b.png"] if album else ["a.png"]:
        chat.post(alice, chat.private(alice), files=[photo(name)], album=album)
    return ALICE


def status_of(chat: FakeChat, chat_id: str) -> Sent:
    """The one message that began as a retry note."""
    (status,) = [
        m for m in chat.sent if m.chat == chat_id and m.edits and "trying again" in m.edits[0]
    ]
    return status


@pytest.mark.parametrize("where", ["private", "group", "album"])
async def test_a_host_down_once_is_told_then_the_links_replace_it(
    settings, platform, chat, chevereto, where
):
    """A cut on the first attempt: within 5 s a status message says the bot tries again, when
    and which try; the links then replace that message. In private it becomes the one answer,
    delete links included; in a group the delete link goes to the uploader alone."""
    chevereto.close_next()
    async with running(settings, platform, tuning=FAST) as core:
        chat_id = await post(core, chat, where)
        await chat.wait_for(lambda m: "/delete/" in m.text, within=15)
    status = status_of(chat, chat_id)
    failed_at = chevereto.upload_requests[0].at
    print(f"testchat ({where}): first failure -> status {status.at - failed_at:.3f} s")
    assert status.at - failed_at < FEEDBACK_WITHIN_S
    assert status.edits[0] == NOTE
    assert "/image/" in status.text
    with_links = [m for m in chat.sent if "/image/" in m.text]  # a delete link holds /image/
    if where == "group":
        answer, secret = with_links
        assert answer is status
        assert "/delete/" not in status.text
        assert (secret.chat, secret.previews) == (ALICE, False)
        assert "/delete/" in secret.text
    else:
        assert with_links == [status]
        assert status.text.count("/delete/") == (2 if where == "album" else 1)
        assert not status.previews


async def test_a_host_down_for_good_ends_in_the_status_message(settings, platform, chat, chevereto):
    """Every attempt fails: one status message, edited for the last try, then into the one
    sentence that says the host cannot be reached."""
    chevereto.close_next(times=3)
    async with running(settings, platform, tuning=FAST) as core:
        await post(core, chat, "private")
        await chat.wait_for(lambda m: m.text == HOST_UNAVAILABLE)
    (status,) = chat.sent
    assert [*status.edits, status.text] == [NOTE, LAST_NOTE, HOST_UNAVAILABLE]


async def test_the_status_message_survives_a_restart(settings, platform, chat, chevereto):
    """The bot stops after the note; the next process answers in that same message (in
    private, the one answer with its delete link)."""
    chevereto.close_next()
    async with running(settings, platform, tuning=PAUSED) as core:
        await post(core, chat, "private")
        await eventually(lambda: waiting_to_retry(core.store))
    async with running(settings, platform, tuning=FAST) as core:
        await due_now(core.store)
        await chat.wait_for(lambda m: "/delete/" in m.text, within=15)
    (status,) = chat.sent
    assert status.edits == [PAUSED_NOTE]
    assert "/image/" in status.text
    assert "/delete/" in status.text
    assert not status.previews
