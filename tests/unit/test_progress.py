"""The status message while a job uploads: none for a job done within 2 s (production's
wait), however big its files; after that wait the percentage sent, shown again at each
interval while it changes (half a second here); the answer then takes that message's place."""

import re
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.chevereto import CheveretoClient
from bot.chevereto.probe import probe_png
from bot.jobs.lanes import Lanes
from bot.jobs.runner import JobRunner
from bot.ops.monitor import Monitor
from bot.payloads import JobSpec
from bot.texts import render
from bot.tuning import Tuning
from bot.upload.service import UploadService
from tests.conftest import ALICE, KEY, LIMITS_MB, PRIVATE
from tests.support.job_handler import RecordingHandler, file
from tests.support.jobs import running

MB = 1024 * 1024
PROMPT = Tuning(
    poll_s=0.05,
    album_window=timedelta(seconds=0.5),
    status_after_s=0.5,
    progress_every_s=0.5,
)
"""Production's rules, the status shown after half a second and changed as often."""


@pytest.fixture
async def patient_runner(store, chevereto, temp_dir) -> AsyncIterator[JobRunner]:
    """A runner whose client waits 30 s for the host's answer: the host here is slow."""
    async with CheveretoClient(chevereto.url, timeout=30) as client:
        service = UploadService(
            client,
            store,
            limit_mb=LIMITS_MB.__getitem__,
            temp_dir=temp_dir,
            lanes=Lanes.of(4, 4, 2),
            monitor=Monitor(store),
        )
        yield JobRunner(store, service, PROMPT)


def big_png(size: int) -> bytes:
    """A PNG the host accepts, padded to ``size`` bytes."""
    head = probe_png()
    return head + b"\0" * (size - len(head))


def spec(name: str, data: bytes) -> JobSpec:
    return JobSpec(ALICE, PRIVATE, "en", (file(name, size=len(data)),))


def percents(handler: RecordingHandler) -> list[int]:
    shown = [render(text, "en") for text in handler.progress_shown]  # type: ignore[arg-type]
    matches = [re.fullmatch(r"Uploading… (\d+)%", text) for text in shown]
    assert all(matches), shown
    return [int(match[1]) for match in matches if match]


async def test_a_big_file_done_within_2_s_shows_no_status(runner, store, chevereto):
    """5 MB that the host takes at once: the answer comes alone, no status message before."""
    await store.keys.link(ALICE, KEY)
    data = big_png(5 * MB)
    handler = RecordingHandler({"big.png": data})
    runner.register("telegram", handler)
    async with running(runner, store):
        started = time.monotonic()
        await runner.submit(spec("big.png", data))
        (answer,) = await handler.wait_for_replies(1)
    assert time.monotonic() - started < Tuning().status_after_s  # else it proves nothing
    assert handler.progress_shown == []
    assert handler.statuses == [None]
    assert "/image/" in render(answer.text, "en")


async def test_a_slow_upload_shows_its_progress_then_the_answer_replaces_it(
    patient_runner, store, chevereto
):
    """A host that reads 16 MB at 8 MB/s: no status for half a second, then the percentage,
    again at each interval while it grows, in one message; the answer is sent in that
    message's place."""
    await store.keys.link(ALICE, KEY)
    chevereto.bandwidth = 8 * MB
    data = big_png(16 * MB)
    handler = RecordingHandler({"big.png": data})
    patient_runner.register("telegram", handler)
    async with running(patient_runner, store):
        started = time.monotonic()
        await patient_runner.submit(spec("big.png", data))
        (answer,) = await handler.wait_for_replies(1, timeout=30)
    shown = percents(handler)
    assert len(shown) >= 2
    assert shown == sorted(set(shown))  # each one new: a percentage that stays is not repeated
    assert all(0 <= percent <= 99 for percent in shown)
    assert handler.progress_at[0] - started >= PROMPT.status_after_s
    gaps = [b - a for a, b in zip(handler.progress_at, handler.progress_at[1:], strict=False)]
    assert all(gap >= PROMPT.progress_every_s * 0.9 for gap in gaps), gaps
    assert handler.status_given == [None] + ["status-1"] * (len(shown) - 1)  # one message
    assert handler.statuses == ["status-1"]
    assert "/delete/" in render(answer.text, "en")


async def test_a_percentage_that_stays_is_shown_once(patient_runner, store, chevereto):
    """The file is sent and the host takes 1.5 s to answer: the status says 99% once, not at
    every interval."""
    await store.keys.link(ALICE, KEY)
    chevereto.delay = 1.5
    handler = RecordingHandler({"a.png": probe_png()})
    patient_runner.register("telegram", handler)
    async with running(patient_runner, store):
        await patient_runner.submit(JobSpec(ALICE, PRIVATE, "en", (file("a.png"),)))
        await handler.wait_for_replies(1, timeout=30)
    assert percents(handler) == [99]
    assert handler.statuses == ["status-1"]
