"""Telegram updates that could not be handled, end to end: one that cannot be parsed, one
whose handler keeps failing, one whose job cannot be stored; by polling and by webhook."""

from __future__ import annotations

import logging

import pytest

from tests.conftest import KEY
from tests.support.jobs import unfinished_jobs
from tests.support.metrics import dropped
from tests.support.running import QUICK, running
from tests.support.settings import core_settings
from tests.support.sqlite_faults import rename_table
from tests.support.telegram_harness import (
    ALICE_ID,
    all_answered,
    handled,
    photo_update,
    telegram_for,
    texts_to,
    user_ref,
)
from tests.support.waiting import eventually

MB = 1024 * 1024
SECRET = "s3cret-Token_1"
BLOCKED = "Forbidden: bot was blocked by the user"


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def sends_to(telegram, chat_id: int) -> list[dict]:
    """Every sendMessage to the chat, refused or not."""
    return [
        c
        for c in telegram.calls
        if c["method"] == "sendMessage" and c["params"].get("chat_id") == chat_id
    ]


def webhook(telegram, port: int):
    """Webhook-mode settings on ``port``, and the webhook's URL; the fake delivers nothing
    itself, the test posts."""
    url = f"http://127.0.0.1:{port}/telegram"
    telegram.deliver_webhooks = False
    settings = telegram_for(
        telegram, webhook_url=url, webhook_listen=f"127.0.0.1:{port}", webhook_secret=SECRET
    )
    return settings, url


def too_large_video(telegram, user):
    ref = telegram.add_file(b"\x00\x00\x00\x18ftypmp42" + b"0" * 100, mime_type="video/mp4")
    chat = telegram.private_chat(user)
    return telegram.message_update(chat, user, video=ref, declared_size=25 * MB)


async def test_an_update_that_cannot_be_parsed_costs_only_itself(bot, telegram, caplog):
    """One getUpdates batch: an update PTB cannot parse, then a photo. The photo is answered
    once, the offset moves past both, one WARNING names the update by id and nothing it held,
    and the drop is counted."""
    caplog.set_level(logging.INFO)
    await bot.store.keys.link(user_ref(ALICE_ID), KEY)
    alice = telegram.user(ALICE_ID)
    garbage = telegram.push_raw_update({"message": "garbage"})
    photo = telegram.push_update(photo_update(telegram, telegram.private_chat(alice), alice))
    await handled(telegram, photo)
    await eventually(lambda: all_answered(bot))
    assert len([t for t in texts_to(telegram, ALICE_ID) if "/delete/" in t]) == 1
    assert dropped(bot.monitor, "telegram", "unparsable") == 1
    assert warnings(caplog) == [
        f"telegram: message {garbage} cannot be parsed; skipped (AttributeError)"
    ]
    assert "garbage" not in caplog.text


async def test_an_update_whose_handler_keeps_failing_is_skipped_after_three_tries(
    bot, telegram, chevereto, caplog
):
    """A too-large video from a user who blocked the bot: its refusal fails to send three
    times, then the update is acknowledged and counted, with one WARNING and none of PTB's."""
    caplog.set_level(logging.INFO)
    telegram.forbid_chat(ALICE_ID, BLOCKED)
    video = telegram.push_update(too_large_video(telegram, telegram.user(ALICE_ID)))
    await handled(telegram, video)
    assert len(sends_to(telegram, ALICE_ID)) == 3
    assert dropped(bot.monitor, "telegram", "handler_error") == 1
    assert warnings(caplog) == [f"telegram: message {video} failed 3 times; skipped (Forbidden)"]
    assert chevereto.requests == []


async def test_a_command_that_fails_beside_the_poll_is_logged_once(bot, telegram, caplog):
    """/help from a user who blocked the bot, a command run beside the poll: its failure is
    logged once by the rule (none of PTB's own lines) and counted."""
    caplog.set_level(logging.INFO)
    telegram.forbid_chat(ALICE_ID, BLOCKED)
    alice = telegram.user(ALICE_ID)
    help_ = telegram.push_update(
        telegram.message_update(telegram.private_chat(alice), alice, text="/help")
    )
    await eventually(lambda: dropped(bot.monitor, "telegram", "handler_error") == 1)
    assert len(sends_to(telegram, ALICE_ID)) == 1
    assert warnings(caplog) == [
        f"telegram: message {help_} failed after it was acknowledged (Forbidden)"
    ]


async def test_a_webhook_update_that_cannot_be_parsed_is_answered_200(
    settings, telegram, unused_port, caplog
):
    """A POST with the secret whose update PTB cannot parse gets 200, is logged once and
    counted; the next update is handled."""
    caplog.set_level(logging.INFO)
    platform, url = webhook(telegram, unused_port)
    async with running(settings, platform, tuning=QUICK) as core:
        await telegram.wait_for_call("setWebhook")
        garbage = {"update_id": 70, "message": "garbage"}
        assert await telegram.post_webhook(url, garbage, SECRET) == 200
        alice = telegram.user(ALICE_ID)
        update = telegram.message_update(telegram.private_chat(alice), alice, text="/help")
        update["update_id"] = 71
        assert await telegram.post_webhook(url, update, SECRET) == 200
        await telegram.wait_for(lambda m: "/link" in (m["text"] or ""))
        assert dropped(core.monitor, "telegram", "unparsable") == 1
    assert warnings(caplog) == ["telegram: message 70 cannot be parsed; skipped (AttributeError)"]
    assert "garbage" not in caplog.text


async def test_a_webhook_update_whose_handler_keeps_failing_is_answered_200(
    settings, telegram, unused_port
):
    """A too-large video from a user who blocked the bot, by webhook: three tries to refuse
    it, then 200, so Telegram does not send it again; the drop is counted."""
    platform, url = webhook(telegram, unused_port)
    async with running(settings, platform, tuning=QUICK) as core:
        await telegram.wait_for_call("setWebhook")
        telegram.forbid_chat(ALICE_ID, BLOCKED)
        update = too_large_video(telegram, telegram.user(ALICE_ID))
        update["update_id"] = 75
        assert await telegram.post_webhook(url, update, SECRET) == 200
        assert len(sends_to(telegram, ALICE_ID)) == 3
        assert dropped(core.monitor, "telegram", "handler_error") == 1


async def test_a_webhook_update_that_cannot_be_stored_gets_500_until_it_can(
    telegram, chevereto, tmp_path, unused_port
):
    """With the jobs table gone a photo's POST gets 500, so Telegram sends it again; once the
    table is back the same update gets 200 and its job is stored, once. (No job runner: its
    start would meet the table gone.)"""
    path = tmp_path / "bot.sqlite3"
    settings = core_settings(chevereto, tmp_path / "data", f"sqlite+aiosqlite:///{path}")
    platform, url = webhook(telegram, unused_port)
    async with running(settings, platform, tuning=QUICK, jobs=False) as core:
        await core.store.keys.link(user_ref(ALICE_ID), KEY)
        await telegram.wait_for_call("setWebhook")
        alice = telegram.user(ALICE_ID)
        update = photo_update(telegram, telegram.private_chat(alice), alice)
        update["update_id"] = 80
        await rename_table(path, "jobs", "jobs_away")
        assert await telegram.post_webhook(url, update, SECRET) == 500
        await rename_table(path, "jobs_away", "jobs")
        assert await telegram.post_webhook(url, update, SECRET) == 200
        assert await unfinished_jobs(core.store) == 1
