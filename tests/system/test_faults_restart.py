"""Fault campaign, the bot itself: ``python -m bot`` killed with SIGKILL mid-upload, restarted;
and a stop that comes at the instant a new job wakes the job runner.

A photo accepted (its job stored, its update acknowledged) before the kill or the stop must be
uploaded and answered exactly once by the next process.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.chevereto.probe import probe_png
from bot.crypto import Vault
from bot.jobs.runner import JobRunner
from bot.payloads import JobSpec
from bot.store import Store
from bot.store.tables import Job
from bot.texts.en import MESSAGES
from bot.tuning import Tuning
from tests.conftest import ALICE, KEY, PRIVATE
from tests.support.fakes.chevereto import FakeChevereto
from tests.support.fakes.telegram_api import FakeTelegram
from tests.support.fault_harness import final_texts, photo_name, upload_answer
from tests.support.job_handler import RecordingHandler, file
from tests.support.jobs import running, unfinished_jobs
from tests.support.process import BotProcess
from tests.support.waiting import eventually

TOKEN = "7301234568:AAH-fault-test-token-0123456789abcdefgh"
ALICE_ID = 1001


def bot_env(telegram: FakeTelegram, chevereto: FakeChevereto, data_dir: Path) -> dict[str, str]:
    return {
        "CHEVERETO_URL": chevereto.url,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": telegram.api_url,
        "TELEGRAM_FILE_URL": telegram.file_url,
        "DATA_DIR": str(data_dir),
        "DEFAULT_API_KEY": KEY,
    }


@pytest.mark.slow
async def test_sigkill_mid_upload_then_restart_answers_once(tmp_path, chevereto):
    """SIGKILL while the host holds the upload; the restarted bot uploads and answers it once."""
    data_dir = tmp_path / "data"
    async with FakeTelegram(token=TOKEN) as telegram:
        env = bot_env(telegram, chevereto, data_dir)
        chevereto.hang_next(120)
        async with BotProcess(env, tmp_path) as first:
            await telegram.wait_for_call("getUpdates", timeout=30)
            alice = telegram.user(ALICE_ID)
            ref = telegram.add_file(probe_png(), mime_type="image/png")
            update = telegram.message_update(telegram.private_chat(alice), alice, photo=ref)
            update_id = telegram.push_update(update)
            await telegram.wait_for_call(
                "getUpdates", lambda p: p.get("offset") == update_id + 1, timeout=20
            )
            await eventually(lambda: bool(chevereto.upload_requests), within=20)
            assert first.process is not None
            first.process.kill()
            await first.process.wait()
        assert final_texts(telegram, ALICE_ID) == []
        assert chevereto.images == {}
        async with BotProcess(env, tmp_path) as second:
            await telegram.wait_for(lambda m: "/delete/" in (m["text"] or ""), timeout=30)
            await eventually(lambda: _no_unfinished_jobs(data_dir), within=10)
            assert await second.stop() == 0
    public, secret = upload_answer(chevereto, photo_name(update["message"]))
    nudge = MESSAGES["upload.borrowed.shared"]  # the shared key's line, once a day
    assert final_texts(telegram, ALICE_ID) == [f"{public}\n{secret}\n{nudge}"]
    assert len(chevereto.images) == 1
    assert len(chevereto.upload_requests) == 2
    assert "resuming 1 job(s) cut off by the last stop" in second.stderr


async def _no_unfinished_jobs(data_dir: Path) -> bool:
    """Reads the bot's own SQLite file; counting jobs opens no sealed value, so any key does."""
    store = Store(f"sqlite+aiosqlite:///{data_dir / 'bot.sqlite3'}", Vault("only-counting"))
    try:
        return await unfinished_jobs(store) == 0
    finally:
        await store.close()


@pytest.mark.parametrize("starts_here", [True, False], ids=["started", "woken"])
async def test_a_stop_that_comes_with_a_new_job_still_stops_the_runner(store, service, starts_here):
    """A stop in the same instant a job is submitted stops the runner; the job waits, and the
    next runner answers it once. Either the job started at once (a slot was free), or, for a
    platform this runner does not serve, it was stored pending and woke the idle runner."""
    await store.keys.link(ALICE, KEY)
    handler = RecordingHandler({"a.png": probe_png()})
    first = JobRunner(store, service, Tuning(poll_s=30))
    first.register("telegram" if starts_here else "discord", handler)
    task = asyncio.create_task(first.run())
    try:
        await asyncio.sleep(0.2)  # idle: waiting to be woken
        await first.submit(JobSpec(ALICE, PRIVATE, "en", (file("a.png"),)))
        task.cancel()
        stopped, _ = await asyncio.wait({task}, timeout=5)
        assert stopped, "the runner ignored its stop"
    finally:
        task.cancel()
        await asyncio.wait({task}, timeout=5)
    assert handler.sent == []
    second = JobRunner(store, service, Tuning(poll_s=0.05))
    second.register("telegram", handler)
    async with running(second, store):
        await handler.wait_for_replies(1)
    assert await unfinished_jobs(store) == 0
    assert len(handler.sent) == 1


async def test_a_stop_while_a_new_job_is_written_leaves_it_to_the_next_runner(
    store, service, chevereto
):
    """A job submitted with a slot free is written as running here; a stop that comes while
    it is being written must not leave it running in the stopped runner: it waits, stored,
    and the next runner answers it, once."""
    await store.keys.link(ALICE, KEY)
    handler = RecordingHandler({"a.png": probe_png()})
    first = JobRunner(store, service, Tuning(poll_s=30))
    first.register("telegram", handler)
    serving, writing, stopped = asyncio.Event(), asyncio.Event(), asyncio.Event()
    claim, add_running = store.jobs.claim, store.jobs.add_running

    async def claim_then_say(*args, **kwargs):
        serving.set()
        return await claim(*args, **kwargs)

    async def written_after_the_stop(*args, **kwargs):
        writing.set()
        await stopped.wait()
        return await add_running(*args, **kwargs)

    store.jobs.claim = claim_then_say  # type: ignore[method-assign]
    store.jobs.add_running = written_after_the_stop  # type: ignore[method-assign]
    task = asyncio.create_task(first.run())
    try:
        await serving.wait()
        submitted = asyncio.create_task(
            first.submit(JobSpec(ALICE, PRIVATE, "en", (file("a.png"),)))
        )
        await writing.wait()
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=5)
        assert done, "the runner ignored its stop"
        stopped.set()
        await submitted  # stored: the platform's event may be acknowledged
    finally:
        task.cancel()
        stopped.set()
        await asyncio.wait({task}, timeout=5)
    assert await job_states(store) == [("pending", None)]
    assert handler.sent == []
    second = JobRunner(store, service, Tuning(poll_s=0.05))
    second.register("telegram", handler)
    async with running(second, store):
        await handler.wait_for_replies(1)
    assert len(handler.sent) == 1
    assert len(chevereto.upload_requests) == 1


async def job_states(store: Store) -> list[tuple[str, str | None]]:
    """Each job's state and the worker holding it."""
    async with store.db.session() as s:
        rows = await s.execute(select(Job.state, Job.worker).order_by(Job.id))
        return [(state, worker) for state, worker in rows]
