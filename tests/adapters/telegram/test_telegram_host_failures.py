"""Host failures told apart, on Telegram: a web page instead of the API (an HTML page, or an
answer over MAX_HOST_ANSWER_KB), a proxy refusing the size, the site's flood limit. Each has
its own sentence in the status message while the job will try again, and in the final answer.
(Not answering: test_telegram_retry.py.)"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import KEY
from tests.support.fakes.chevereto import PAUSE_S
from tests.support.running import FAST, running
from tests.support.settings import core_settings
from tests.support.telegram_harness import ALICE_ID, history, photo_update, user_ref
from tests.support.waiting import eventually

JSON = dict[str, Any]
MB = 1024 * 1024
FLOODING = "Flooding detected. Please try again later."
PAGE_NOTE = (
    "The host answered with a web page instead of its API (maintenance?); trying again in 1 s "
    "({} of 3)."
)
PAGE = (
    "The host answered with a web page instead of its API: the site may be under maintenance, "
    "or the bot's address for it is wrong. Try again later."
)
FLOOD_NOTE = (
    "The host is holding back uploads for a while (its flood limit); trying again in 1 s ({} of 3)."
)
PROXY = (
    "The site's proxy refuses files this large, whatever the host itself accepts. Send a "
    "smaller file, or ask the site's admin to raise the proxy's limit."
)


@pytest.fixture
def settings(chevereto, tmp_path):
    return core_settings(chevereto, tmp_path / "data")


async def post(core, telegram, language: str = "en") -> None:
    """Alice, with her key linked, sends a photo in private, her Telegram in ``language``."""
    await core.store.keys.link(user_ref(ALICE_ID), KEY)
    alice = telegram.user(ALICE_ID, language_code=language)
    telegram.push_update(photo_update(telegram, telegram.private_chat(alice), alice))


def status_texts(telegram) -> list[str]:
    """Every version of the one message Alice got: the status, its edits, the answer."""
    (versions,) = history(telegram, ALICE_ID).values()
    return [version["text"] for version in versions]


async def answered_with(telegram, text: str) -> None:
    await eventually(lambda: text in [m["text"] for m in telegram.sent], within=20)


async def test_an_html_page_is_told_as_a_web_page(settings, platform, telegram, chevereto):
    """HTML pages on every attempt: the retry notes and the final answer say the host answered
    a web page instead of its API."""
    chevereto.answer_html_next(times=3)
    async with running(settings, platform, tuning=FAST) as core:
        await post(core, telegram)
        await answered_with(telegram, PAGE)
    assert status_texts(telegram) == [PAGE_NOTE.format(2), PAGE_NOTE.format(3), PAGE]


async def test_a_5_mb_answer_is_cut_and_told_as_a_web_page(settings, platform, telegram, chevereto):
    """A 5 MB answer on every attempt is not read whole (each connection is closed before the
    fake could send it all) and is told as a web page, in the notes and the final answer."""
    chevereto.oversized_answer_next(5 * MB, times=3, declared=False)
    async with running(settings, platform, tuning=FAST) as core:
        await post(core, telegram)
        await answered_with(telegram, PAGE)
    assert status_texts(telegram) == [PAGE_NOTE.format(2), PAGE_NOTE.format(3), PAGE]
    requests = chevereto.upload_requests
    assert len(requests) == 3
    await eventually(lambda: all(r.answer_cut for r in requests), within=PAUSE_S - 2)
    assert all(r.answer_sent < 5 * MB for r in requests)


async def test_a_proxy_413_is_told_at_once(settings, platform, telegram, chevereto):
    """A proxy's 413 page: one answer saying the site's proxy refuses files this large, with no
    retry (the same file would meet the same limit)."""
    chevereto.proxy_413_next(times=3)
    async with running(settings, platform, tuning=FAST) as core:
        await post(core, telegram)
        await answered_with(telegram, PROXY)
    assert status_texts(telegram) == [PROXY]
    assert len(chevereto.upload_requests) == 1


async def test_the_flood_limit_is_retried_and_the_photo_uploaded(
    settings, platform, telegram, chevereto
):
    """The flood limit on the first attempt: the note says so, the next attempt uploads, and
    the links replace the note."""
    chevereto.error_next(130, FLOODING)
    async with running(settings, platform, tuning=FAST) as core:
        await post(core, telegram)
        await telegram.wait_for(lambda m: "/delete/" in (m["text"] or ""), timeout=20)
    first, *_, last = status_texts(telegram)
    assert first == FLOOD_NOTE.format(2)
    assert "/image/" in last
    assert len(chevereto.images) == 1


async def test_the_flood_limit_for_good_is_told_in_chinese(settings, platform, telegram, chevereto):
    """The flood limit on every attempt, for a user whose Telegram speaks Chinese: the notes and
    the final answer in Chinese."""
    chevereto.error_next(130, FLOODING, times=3)
    final = "图床暂时限制上传（短时间内上传过多）。请稍后再试。"
    async with running(settings, platform, tuning=FAST) as core:
        await post(core, telegram, "zh-hans")
        await answered_with(telegram, final)
    note = "图床暂时限制上传（防刷限制）；1 秒后重试（第 {} 次，共 3 次）。"
    assert status_texts(telegram) == [note.format(2), note.format(3), final]


async def test_a_page_is_told_in_chinese(settings, platform, telegram, chevereto):
    """A web page on every attempt, in Chinese."""
    chevereto.answer_html_next(times=3)
    final = (
        "图床返回了一个网页而不是它的 API："
        "网站可能正在维护，或机器人设置的网站地址有误。请稍后再试。"
    )
    async with running(settings, platform, tuning=FAST) as core:
        await post(core, telegram, "zh-hans")
        await answered_with(telegram, final)
    assert status_texts(telegram)[-1] == final
