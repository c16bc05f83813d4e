"""The host watch: failures in a row take the host down, probes against the fake host bring it
back, waiters go on in order, and a wait past its deadline says so."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.chevereto import CheveretoClient
from bot.domain import Text
from bot.errors import (
    Duplicate,
    HostFlooding,
    HostNotAnswering,
    KeyRejected,
    NotTheApi,
    SourceUnavailable,
)
from bot.jobs.outage import HostWatch
from bot.ops.monitor import Monitor
from bot.store import Store
from bot.texts import render
from bot.tuning import Tuning
from tests.support.fakes.chevereto import FakeChevereto
from tests.support.waiting import eventually

DOWN_AFTER = 5
FAILURE = HostNotAnswering("upload failed: ConnectTimeout")


class Watched:
    """A watch on the fake host, with the notices it gave and the metrics it set."""

    def __init__(self, client: CheveretoClient, store: Store, site: str) -> None:
        self.monitor = Monitor(store)
        self.notices: list[Text] = []
        self.watch = HostWatch(
            client,
            self.monitor,
            Tuning(host_probe_s=0.01),
            patience=timedelta(hours=1),
            site=site,
            notify=self.notify,
        )

    async def notify(self, text: Text) -> None:
        self.notices.append(text)

    def fail(self, times: int = DOWN_AFTER) -> None:
        for _ in range(times):
            self.watch.report(FAILURE)

    async def gauge(self) -> str:
        (line,) = [
            line
            for line in (await self.monitor.exposition()).decode().splitlines()
            if line.startswith("chevereto_bot_host_up ")
        ]
        return line


@pytest.fixture
def watched(client: CheveretoClient, store: Store, chevereto: FakeChevereto) -> Watched:
    return Watched(client, store, chevereto.url)


@contextlib.asynccontextmanager
async def running(watch: HostWatch) -> AsyncIterator[None]:
    """The watch's ``run`` as a task, as the bot runs it; cancelled cleanly at the end."""
    task = asyncio.create_task(watch.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert task.cancelled()


def is_down(watch: HostWatch) -> bool:
    return watch.down_since is not None


async def test_five_failures_in_a_row_take_the_host_down(watched: Watched):
    """Four failures that pass leave the host up; the fifth takes it down, and the gauge says 0."""
    watched.fail(DOWN_AFTER - 1)
    assert not is_down(watched.watch)
    assert await watched.gauge() == "chevereto_bot_host_up 1.0"
    watched.fail(1)
    assert is_down(watched.watch)
    assert await watched.gauge() == "chevereto_bot_host_up 0.0"


@pytest.mark.parametrize("answer", [None, KeyRejected("no"), Duplicate("there")])
async def test_an_answer_from_the_host_resets_the_count(watched: Watched, answer):
    """An upload, or a refusal the host really answered, between failures starts the count
    again."""
    watched.fail(DOWN_AFTER - 1)
    watched.watch.report(answer)
    watched.fail(DOWN_AFTER - 1)
    assert not is_down(watched.watch)


async def test_every_kind_of_passing_failure_counts(watched: Watched):
    """No answer, a web page and the flood limit count alike; the platform's own failure (a
    download) neither counts nor resets."""
    kinds = [FAILURE, NotTheApi("page"), HostFlooding("flood"), FAILURE]
    for error in kinds:
        watched.watch.report(error)
    watched.watch.report(SourceUnavailable("the chat's file server"))
    assert not is_down(watched.watch)
    watched.watch.report(FAILURE)
    assert is_down(watched.watch)


async def test_probes_ask_until_the_host_is_back(watched: Watched, chevereto: FakeChevereto):
    """While the site is down the probes fail and the host stays down; once the site answers,
    a probe brings it up, the gauge says 1, and the admins heard once of each."""
    chevereto.outage = "page"
    watched.fail()
    async with running(watched.watch):
        await eventually(lambda: len(chevereto.site_checks) >= 2)
        assert is_down(watched.watch)
        chevereto.outage = None
        async with asyncio.timeout(10):
            await watched.watch.up()
        await eventually(lambda: len(watched.notices) == 2)
    assert await watched.gauge() == "chevereto_bot_host_up 1.0"
    assert chevereto.upload_requests == []
    down, back = (render(text, "en") for text in watched.notices)
    assert down.startswith(f"The host {chevereto.url} has not answered since ")
    assert down.endswith("; uploads wait for it (up to 1 h).")
    assert back == f"The host {chevereto.url} is back; the files that waited are going up now."


async def test_the_down_notice_says_since_when(watched: Watched, chevereto: FakeChevereto):
    """The notice names the minute the host went down, in UTC."""
    chevereto.outage = "page"
    watched.fail()
    async with running(watched.watch):
        await eventually(lambda: len(watched.notices) == 1)
    since = watched.watch.down_since
    assert since is not None
    assert f"since {since:%H:%M} UTC" in render(watched.notices[0], "en")


async def test_no_probe_while_the_host_is_up(watched: Watched, chevereto: FakeChevereto):
    """A running watch asks nothing of a host that is up."""
    watched.fail(DOWN_AFTER - 1)
    async with running(watched.watch):
        await asyncio.sleep(0.1)
    assert chevereto.site_checks == []


async def test_failures_while_down_change_nothing(watched: Watched, chevereto: FakeChevereto):
    """Uploads that fail after the host went down bring no second notice; only the probe
    brings it back."""
    chevereto.outage = "cut"
    watched.fail()
    async with running(watched.watch):
        watched.fail(3 * DOWN_AFTER)
        await eventually(lambda: len(chevereto.site_checks) >= 2)
    assert len(watched.notices) == 1
    assert is_down(watched.watch)


async def test_waiters_go_on_in_the_order_they_came(watched: Watched):
    """Jobs waiting for the host go on, once it is back, in the order they began to wait."""
    watched.fail()
    went_on: list[int] = []

    async def job(number: int) -> None:
        if number % 2:
            await watched.watch.up()
        else:
            assert await watched.watch.up_by(datetime.now(UTC) + timedelta(hours=1))
        went_on.append(number)

    jobs = []
    for number in range(6):
        jobs.append(asyncio.create_task(job(number)))
        await asyncio.sleep(0)  # it is waiting now
    assert went_on == []
    async with running(watched.watch):
        await asyncio.gather(*jobs)
    assert went_on == list(range(6))


async def test_a_wait_past_its_deadline_says_so(watched: Watched, chevereto: FakeChevereto):
    """A host still down at the deadline: the wait returns False (the file is answered as
    failed); a wait while the host is up returns True at once, whatever the deadline."""
    assert await watched.watch.up_by(datetime.now(UTC) - timedelta(seconds=1))
    chevereto.outage = "page"
    watched.fail()
    async with running(watched.watch):
        assert not await watched.watch.up_by(datetime.now(UTC) + timedelta(milliseconds=50))
    assert is_down(watched.watch)
