"""Feedback while retrying: the status message says at once that the job will try again and
when; the final answer replaces that message, from this process or the next one."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

from bot.chevereto.probe import probe_png
from bot.domain import ChatRef
from bot.errors import SourceUnavailable
from bot.jobs.runner import JobRunner
from bot.payloads import FileRef, JobSpec
from bot.texts import render
from bot.tuning import Tuning
from tests.conftest import ALICE, GROUP, KEY, PRIVATE
from tests.support.job_handler import RecordingHandler, file
from tests.support.jobs import running, unfinished_jobs
from tests.support.retrying import waiting_to_retry
from tests.support.waiting import eventually

TUNING = Tuning(retry_delays=(0.05, 0.05), poll_s=0.05, album_window=timedelta(seconds=0.5))


def spec(*names: str, chat: ChatRef = PRIVATE) -> JobSpec:
    return JobSpec(ALICE, chat, "en", tuple(file(n) for n in names))


def shown(handler: RecordingHandler, language: str = "en") -> list[str]:
    return [render(text, language) for text in handler.progress_shown]  # type: ignore[arg-type]


async def test_a_host_down_once_is_told_then_replaced_by_the_links(runner, store, chevereto):
    """A connection cut without an answer: the status says the host is not answering, when and
    which try comes next; the links then replace that very status message."""
    await store.keys.link(ALICE, KEY)
    chevereto.close_next()
    handler = RecordingHandler({"a.png": probe_png()})
    runner.register("telegram", handler)
    async with running(runner, store):
        await runner.submit(spec("a.png"))
        (answer,) = await handler.wait_for_replies(1)
    assert shown(handler) == ["The host is not answering; trying again in 1 s (2 of 3)."]
    assert "/image/" in render(answer.text, "en")
    assert handler.statuses == ["status-1"]


async def test_in_a_group_only_the_public_answer_replaces_the_note(runner, store, chevereto):
    """In a group the links replace the status message; the delete link, sent to the uploader
    alone, is a message of its own."""
    await store.keys.link(ALICE, KEY)
    chevereto.close_next()
    handler = RecordingHandler({"a.png": probe_png()})
    runner.register("telegram", handler)
    async with running(runner, store):
        await runner.submit(spec("a.png", chat=GROUP))
        public, secret = await handler.wait_for_replies(2)
    assert shown(handler) == ["The host is not answering; trying again in 1 s (2 of 3)."]
    assert "/image/" in render(public.text, "en")
    assert "/delete/" not in render(public.text, "en")
    assert secret.secret
    assert handler.statuses == ["status-1", None]  # only the public answer takes its place


async def test_the_note_is_in_the_user_s_language(runner, store, chevereto):
    """A Chinese-speaking user reads the note in Chinese, with the same numbers."""
    await store.keys.link(ALICE, KEY)
    chevereto.close_next()
    handler = RecordingHandler({"a.png": probe_png()})
    runner.register("telegram", handler)
    async with running(runner, store):
        await runner.submit(replace(spec("a.png"), language="zh"))
        await handler.wait_for_replies(1)
    assert shown(handler, "zh") == ["图床没有响应；1 秒后重试（第 2 次，共 3 次）。"]


async def test_a_download_that_failed_is_told_as_the_chat_s(runner, store, chevereto):
    """A file the platform could not hand over: the note names the chat, not the host."""
    await store.keys.link(ALICE, KEY)
    handler = RecordingHandler({"a.png": probe_png()})
    real_fetch, failed = handler.fetch, []

    async def fetch(ref: FileRef) -> AsyncIterator[bytes]:
        if not failed:
            failed.append(ref)
            raise SourceUnavailable("the platform's file server is down")
        async for chunk in real_fetch(ref):
            yield chunk

    handler.fetch = fetch  # type: ignore[method-assign]
    runner.register("telegram", handler)
    async with running(runner, store):
        await runner.submit(spec("a.png"))
        await handler.wait_for_replies(1)
    assert shown(handler) == [
        "I could not download the file from the chat; trying again in 1 s (2 of 3)."
    ]
    assert len(chevereto.images) == 1


async def test_a_host_down_for_good_ends_in_the_status_message(runner, store, chevereto):
    """Every attempt fails: a note before each retry, edited in place, and the failure
    sentence replaces the status message."""
    await store.keys.link(ALICE, KEY)
    chevereto.close_next(times=3)
    handler = RecordingHandler({"a.png": probe_png()})
    runner.register("telegram", handler)
    async with running(runner, store):
        await runner.submit(spec("a.png"))
        (failure,) = await handler.wait_for_replies(1)
    assert shown(handler) == [
        "The host is not answering; trying again in 1 s (2 of 3).",
        "The host is not answering; trying again in 1 s (3 of 3).",
    ]
    assert handler.status_given == [None, "status-1"]
    assert handler.statuses == ["status-1"]
    assert "cannot be reached" in render(failure.text, "en")


async def test_the_first_failure_is_told_while_other_files_still_upload(runner, store, chevereto):
    """In an album, a file that failed is told about at once, not when the batch ends."""
    await store.keys.link(ALICE, KEY)
    handler = RecordingHandler({"slow.png": probe_png(), "bad.png": probe_png()})
    real_fetch, release = handler.fetch, asyncio.Event()
    failed: list[str] = []

    async def fetch(ref: FileRef) -> AsyncIterator[bytes]:
        if ref.locator == "slow.png":
            await release.wait()
        elif not failed:
            failed.append(ref.locator)
            raise SourceUnavailable("down for a moment")
        async for chunk in real_fetch(ref):
            yield chunk

    handler.fetch = fetch  # type: ignore[method-assign]
    runner.register("telegram", handler)
    async with running(runner, store):
        await runner.submit(spec("slow.png", "bad.png"))
        await eventually(lambda: handler.progress_shown, within=5)
        assert chevereto.upload_requests == []  # slow.png is still on its way
        release.set()
        (summary,) = await handler.wait_for_replies(1)
    assert "2 of 2 files uploaded" in render(summary.text, "en")
    assert handler.statuses == ["status-1"]


async def test_the_status_message_outlives_the_process(store, service, chevereto):
    """A runner shows the note and stops; the next one, knowing nothing of it, answers in
    that same status message."""
    await store.keys.link(ALICE, KEY)
    chevereto.fail_next(503)
    first = RecordingHandler({"a.png": probe_png()})
    before = JobRunner(store, service, replace(TUNING, retry_delays=(0.5, 0.5)))
    before.register("telegram", first)
    task = asyncio.create_task(before.run())
    await before.submit(spec("a.png"))
    await eventually(lambda: waiting_to_retry(store))
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert first.sent == []
    assert len(chevereto.upload_requests) == 1
    second = RecordingHandler({"a.png": probe_png()})
    after = JobRunner(store, service, TUNING)
    after.register("telegram", second)
    async with running(after, store):
        await second.wait_for_replies(1)
    assert second.statuses == ["status-1"]
    assert await unfinished_jobs(store) == 0


async def test_no_note_once_the_public_answer_is_out(runner, store, chevereto):
    """In a group, the links went out and the delete-link message failed: the job tries that
    again, and shows no "trying again" message beside an answer already given."""
    await store.keys.link(ALICE, KEY)
    handler = RecordingHandler({"a.png": probe_png()})
    real_deliver, broken = handler.deliver, []

    async def deliver(job, reply, status) -> bool:
        if reply.secret and not broken:
            broken.append(reply)
            raise RuntimeError("the platform failed just now")
        return await real_deliver(job, reply, status)

    handler.deliver = deliver  # type: ignore[method-assign]
    runner.register("telegram", handler)
    async with running(runner, store):
        await runner.submit(spec("a.png", chat=GROUP))
        public, secret = await handler.wait_for_replies(2)
    assert broken
    assert handler.progress_shown == []
    assert "/image/" in render(public.text, "en")
    assert secret.secret
    assert len(chevereto.images) == 1
