"""Fault campaign, the host: down, 5xx, an HTML page, a 301, a timeout, a reset mid-upload.

Each test runs the real Telegram adapter and job runner against the fake Bot API and the
fake Chevereto, and ends by proving that nothing was lost (no unfinished job, the image on
the host exactly once, or not at all) and that the user got one clear answer.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.chevereto.probe import probe_png
from bot.domain import UserRef
from tests.conftest import KEY
from tests.support.fakes.chevereto import UPLOAD_PATH, FakeChevereto
from tests.support.fakes.telegram_api import FakeTelegram
from tests.support.fault_harness import (
    HOST_PAGE,
    HOST_UNAVAILABLE,
    JSON,
    PortSwitch,
    final_texts,
    job_rows,
    photo_name,
    running_telegram,
    telegram_settings,
    upload_answer,
)
from tests.support.jobs import unfinished_jobs
from tests.support.running import FAST
from tests.support.waiting import eventually

MB = 1024 * 1024
ALICE_ID = 1001
ALICE = UserRef("telegram", str(ALICE_ID))


@pytest.fixture
async def telegram():
    async with FakeTelegram() as fake:
        yield fake


def port_of(chevereto: FakeChevereto) -> int:
    return int(chevereto.url.rsplit(":", 1)[1])


def send_photo(telegram: FakeTelegram, data: bytes | None = None) -> JSON:
    """Alice sends a photo in her private chat; returns the message."""
    alice = telegram.user(ALICE_ID)
    ref = telegram.add_file(probe_png() if data is None else data, mime_type="image/png")
    update = telegram.message_update(telegram.private_chat(alice), alice, photo=ref)
    telegram.push_update(update)
    return update["message"]


async def no_unfinished_jobs(core) -> bool:
    return await unfinished_jobs(core.store) == 0


async def assert_uploaded_once(core, telegram: FakeTelegram, chevereto, message: JSON) -> None:
    """The photo is on the host once; Alice saw one message, its links then its delete link,
    with link previews off; no job left."""
    answer = await telegram.wait_for(lambda m: "/delete/" in (m["text"] or ""), timeout=20)
    await eventually(lambda: no_unfinished_jobs(core))
    public, secret = upload_answer(chevereto, photo_name(message))
    assert final_texts(telegram, ALICE_ID) == [f"{public}\n{secret}"]
    assert answer["preview_disabled"]
    assert len(chevereto.images) == 1


async def assert_told_host_failed(
    core, telegram: FakeTelegram, chevereto, sentence: str = HOST_UNAVAILABLE
) -> None:
    """After its last attempt the job answered one sentence, finished, and stored nothing."""
    await telegram.wait_for(lambda m: m["chat_id"] == ALICE_ID, timeout=20)
    await eventually(lambda: no_unfinished_jobs(core))
    assert final_texts(telegram, ALICE_ID) == [sentence]
    assert chevereto.images == {}


@pytest.mark.slow
async def test_a_host_refusing_connections_is_waited_for(telegram, chevereto, tmp_path, database):
    """While the host's port is closed the job waits; once it opens the photo is answered once."""
    async with PortSwitch(port_of(chevereto)) as switch:
        await switch.down()
        settings = telegram_settings(telegram, switch.url, tmp_path / "data", database)
        async with running_telegram(settings, replace(FAST, retry_delays=(1.0, 1.0))) as core:
            await core.store.keys.link(ALICE, KEY)
            message = send_photo(telegram)
            await eventually(lambda: _first_attempt_failed(database))
            assert chevereto.requests == []
            await switch.up()
            await assert_uploaded_once(core, telegram, chevereto, message)


async def _first_attempt_failed(database: str) -> bool:
    return await job_rows(database) == [("pending", 1)]


async def test_a_host_down_for_good_gets_one_clear_answer(
    telegram, chevereto, tmp_path, database, unused_port
):
    """A host whose port stays closed: after the last attempt, one "cannot be reached" answer."""
    settings = telegram_settings(
        telegram, f"http://127.0.0.1:{unused_port}", tmp_path / "data", database
    )
    async with running_telegram(settings) as core:
        await core.store.keys.link(ALICE, KEY)
        send_photo(telegram)
        await assert_told_host_failed(core, telegram, chevereto)


async def test_5xx_answers_are_retried_and_the_photo_uploaded_once(
    telegram, chevereto, tmp_path, database
):
    """Two 503s (the first two attempts): uploaded and answered once."""
    chevereto.fail_next(503, times=2)
    settings = telegram_settings(telegram, chevereto.url, tmp_path / "data", database)
    async with running_telegram(settings) as core:
        await core.store.keys.link(ALICE, KEY)
        message = send_photo(telegram)
        await assert_uploaded_once(core, telegram, chevereto, message)
    assert len(chevereto.upload_requests) == 3


async def test_5xx_for_good_gets_one_clear_answer(telegram, chevereto, tmp_path, database):
    """A host answering a 502 page to every attempt: one "web page instead of its API" answer."""
    chevereto.fail_next(502, times=100)
    settings = telegram_settings(telegram, chevereto.url, tmp_path / "data", database)
    async with running_telegram(settings) as core:
        await core.store.keys.link(ALICE, KEY)
        send_photo(telegram)
        await assert_told_host_failed(core, telegram, chevereto, HOST_PAGE)
    assert len(chevereto.upload_requests) == 3  # one try per attempt: a 5xx waits for the next


async def test_an_html_error_page_is_retried(telegram, chevereto, tmp_path, database):
    """HTML pages instead of JSON fail the first attempt; the job then uploads and answers once."""
    chevereto.answer_html_next()
    settings = telegram_settings(telegram, chevereto.url, tmp_path / "data", database)
    async with running_telegram(settings) as core:
        await core.store.keys.link(ALICE, KEY)
        message = send_photo(telegram)
        await assert_uploaded_once(core, telegram, chevereto, message)
    assert "<html" not in "".join(final_texts(telegram, ALICE_ID)).lower()


async def test_a_301_is_never_followed_and_gets_one_clear_answer(
    telegram, chevereto, tmp_path, database
):
    """A host that redirects every upload: no redirect is followed, the user hears once that
    a web page answered instead of the API."""
    chevereto.redirect_next(times=100)
    settings = telegram_settings(telegram, chevereto.url, tmp_path / "data", database)
    async with running_telegram(settings) as core:
        await core.store.keys.link(ALICE, KEY)
        send_photo(telegram)
        await assert_told_host_failed(core, telegram, chevereto, HOST_PAGE)
    requests = chevereto.requests
    assert {(r.method, r.path) for r in requests} == {("POST", UPLOAD_PATH)}
    assert len(requests) <= 3  # at most one try per attempt: a redirect is not retried at once


@pytest.mark.slow
async def test_a_host_hanging_past_the_timeout_is_retried(telegram, chevereto, tmp_path, database):
    """Two attempts that hang past the client's timeout, then a normal host: answered once. The
    timeout leaves the third, normal upload room on a loaded machine."""
    chevereto.hang_next(10, times=2)
    settings = telegram_settings(telegram, chevereto.url, tmp_path / "data", database)
    async with running_telegram(settings, replace(FAST, host_timeout=2.0)) as core:
        await core.store.keys.link(ALICE, KEY)
        message = send_photo(telegram)
        await assert_uploaded_once(core, telegram, chevereto, message)
    assert len(chevereto.upload_requests) == 3


async def test_a_connection_reset_mid_upload_is_retried(telegram, chevereto, tmp_path, database):
    """An 8 MB upload cut by a TCP reset twice, then sent whole: on the host once, answered once."""
    chevereto.close_next(times=2)
    data = probe_png() + b"\0" * (8 * MB)
    settings = telegram_settings(telegram, chevereto.url, tmp_path / "data", database)
    async with running_telegram(settings) as core:
        await core.store.keys.link(ALICE, KEY)
        message = send_photo(telegram, data)
        await assert_uploaded_once(core, telegram, chevereto, message)
    (image,) = chevereto.images.values()
    assert image.size == len(data)
    assert [r.file_size for r in chevereto.upload_requests] == [None, None, len(data)]
