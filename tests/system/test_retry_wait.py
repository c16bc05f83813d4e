"""The whole wait for a host down for good, with production's timings: the real Telegram adapter
and the default Tuning against a host that hangs on every upload, the worst case there is
(each attempt costs the client's whole timeout). The user hears within 5 s of the first
failure that the bot tries again, and gets the final answer within 60 s of it."""

from __future__ import annotations

import pytest

from bot.chevereto.probe import probe_png
from bot.domain import UserRef
from bot.tuning import Tuning
from tests.conftest import KEY
from tests.support.fakes.chevereto import FakeChevereto
from tests.support.fakes.telegram_api import FakeTelegram
from tests.support.retrying import FEEDBACK_WITHIN_S, HOST_UNAVAILABLE
from tests.support.running import running
from tests.support.settings import core_settings
from tests.support.telegram_harness import ALICE_ID, telegram_for
from tests.support.waiting import eventually

DEFAULTS = Tuning()
WHOLE_WAIT_S = 60.0


@pytest.fixture
async def telegram():
    async with FakeTelegram() as fake:
        yield fake


@pytest.mark.slow
async def test_a_hanging_host_is_answered_within_a_minute_with_default_timings(
    telegram: FakeTelegram, chevereto: FakeChevereto, tmp_path
) -> None:
    """Three attempts that hang: the upload's progress after 2 s, then a note within 5 s of
    the first timeout, edited for the last try, then the failure sentence in that same
    message, under 60 s after the first failure."""
    chevereto.hang_next(600, times=3)
    settings = core_settings(chevereto, tmp_path / "data")
    async with running(settings, telegram_for(telegram), tuning=DEFAULTS) as core:
        await core.store.keys.link(UserRef("telegram", str(ALICE_ID)), KEY)
        alice = telegram.user(ALICE_ID)
        ref = telegram.add_file(probe_png(), mime_type="image/png")
        telegram.push_update(
            telegram.message_update(telegram.private_chat(alice), alice, photo=ref)
        )
        await eventually(
            lambda: any(m["text"] == HOST_UNAVAILABLE for m in telegram.sent), within=90
        )
    versions = [m for m in telegram.sent if m["chat_id"] == ALICE_ID]
    progress, *_ = versions
    note = next(m for m in versions if "trying again" in (m["text"] or ""))
    final = versions[-1]
    first_failed_at = chevereto.upload_requests[0].at + DEFAULTS.host_timeout
    told = note["at"] - first_failed_at
    whole = final["at"] - first_failed_at
    print(
        f"default timings, hanging host: first request -> first failure (timeout) "
        f"{DEFAULTS.host_timeout:.1f} s; first failure -> status {told:.2f} s; "
        f"first failure -> final answer {whole:.1f} s; "
        f"first request -> final answer {final['at'] - chevereto.upload_requests[0].at:.1f} s"
    )
    assert progress["text"].startswith("Uploading")  # the first attempt outlasted 2 s
    assert "trying again in 5 s (2 of 3)" in note["text"]
    assert final["text"] == HOST_UNAVAILABLE
    assert told < FEEDBACK_WITHIN_S
    assert whole < WHOLE_WAIT_S
    assert {m["message_id"] for m in versions} == {note["message_id"]}
    assert len(chevereto.upload_requests) == 3
