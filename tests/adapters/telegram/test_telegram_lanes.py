"""Fair lanes through the real python-telegram-bot: one user's many photos do not make another's
one wait behind them all, and one user's slow links hold no upload slot."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.chevereto.probe import probe_png
from tests.conftest import KEY, OTHER_KEY
from tests.support.fakes.link_site import LinkSite
from tests.support.running import QUICK, running
from tests.support.settings import core_settings
from tests.support.telegram_harness import (
    ALICE_ID,
    BOB_ID,
    all_answered,
    history,
    photo_update,
    texts_to,
    user_ref,
)
from tests.support.waiting import eventually

IN_LINE = "Your link waits in line"


@pytest.fixture
def settings_with(chevereto, tmp_path, database):
    """The core's settings on the fakes, with ``extra`` settings."""

    def made(**extra):
        return core_settings(chevereto, tmp_path / "data", database, **extra)

    return made


async def test_a_second_users_photo_goes_before_the_first_users_third(
    settings_with, chevereto, telegram, platform
):
    """Two upload slots; Alice's 20 photos are all stored, then Bob sends one: his upload starts
    (reaches the host) before Alice's third does."""
    settings = settings_with(upload_concurrency=2)
    chevereto.hang_next(1.0, times=2)  # Alice's first two hold both slots until Bob waits
    alice, bob = telegram.user(ALICE_ID), telegram.user(BOB_ID)
    async with running(settings, platform, tuning=QUICK) as core:
        await telegram.wait_for_call("getUpdates")
        await core.store.keys.link(user_ref(ALICE_ID), KEY)
        await core.store.keys.link(user_ref(BOB_ID), OTHER_KEY)
        for _ in range(20):
            telegram.push_update(photo_update(telegram, telegram.private_chat(alice), alice))
        await eventually(lambda: _stored(core, 20))
        telegram.push_update(photo_update(telegram, telegram.private_chat(bob), bob))
        await eventually(lambda: all_answered(core), within=60)
    keys = [request.headers["x-api-key"] for request in chevereto.upload_requests]
    assert keys.index(OTHER_KEY) < [n for n, key in enumerate(keys) if key == KEY][2]
    assert len(chevereto.images) == 21


async def _stored(core, count: int) -> bool:
    return await core.store.jobs.waiting() >= count


@pytest.fixture
async def site():
    async with LinkSite().running() as site:
        yield site


@pytest.mark.slow  # it waits out the trickling links' window on purpose
async def test_trickling_links_hold_no_upload_slot(
    settings_with, chevereto, telegram, platform, site
):
    """Alice sends four links to a server that trickles; two are fetched at once (she is told
    the others wait in line), and Bob's photo reaches the host and is answered while they are
    still open; once the rate rule cuts them, their connections are closed."""
    settings = settings_with(
        upload_concurrency=1, min_transfer_kbps=256, fetch_private_addresses=True
    )
    alice, bob = telegram.user(ALICE_ID), telegram.user(BOB_ID)
    tuning = replace(QUICK, transfer_window_s=2.0)
    async with running(settings, platform, tuning=tuning) as core:
        await telegram.wait_for_call("getUpdates")
        await core.store.keys.link(user_ref(ALICE_ID), KEY)
        await core.store.keys.link(user_ref(BOB_ID), OTHER_KEY)
        for n in range(4):
            link = site.trickling(f"/slow-{n}.png", probe_png())
            telegram.push_update(
                telegram.message_update(telegram.private_chat(alice), alice, text=link)
            )
        await eventually(lambda: site.streaming == 2)
        telegram.push_update(photo_update(telegram, telegram.private_chat(bob), bob))
        await telegram.wait_for(lambda m: m["chat_id"] == BOB_ID and "/delete/" in m["text"])
        assert (site.streaming, site.left) == (2, [])
        assert [r.headers["x-api-key"] for r in chevereto.upload_requests] == [OTHER_KEY]
        await telegram.wait_for(lambda m: m["chat_id"] == ALICE_ID and IN_LINE in m["text"])
        await eventually(lambda: len(site.left) >= 2, within=30)
        assert site.streaming <= 2
    assert {r.headers["x-api-key"] for r in chevereto.upload_requests} == {OTHER_KEY}
    assert any(IN_LINE in text for text in texts_to(telegram, ALICE_ID))
    assert history(telegram, BOB_ID)
