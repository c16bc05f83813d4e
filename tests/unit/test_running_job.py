"""A running job's owner: each state change is one transaction (counted with SQLAlchemy's own
events), saved only while the job is this worker's, and what it saves is what the next
attempt, on any worker, starts from."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import event

from bot.domain import HostImage, Outcome
from bot.jobs.running import RunningJob
from bot.payloads import FileResult, JobSpec
from bot.store import FileCount, Store
from bot.store.uploads import NewUpload
from tests.conftest import ALICE, PRIVATE
from tests.support.job_handler import file

LEASE = timedelta(seconds=60)
WORKER = "worker-test"


@contextmanager
def transactions(store: Store) -> Iterator[list[str]]:
    """The commits the job path made while the block runs (each transaction one)."""
    committed: list[str] = []

    def counted(connection: object) -> None:
        committed.append("commit")

    engine = store.db.commits.engine
    event.listen(engine, "commit", counted)
    try:
        yield committed
    finally:
        event.remove(engine, "commit", counted)


async def running(store: Store, *names: str) -> RunningJob:
    """A job of ``names`` stored running on WORKER, as ``submit`` stores one with room here."""
    spec = JobSpec(ALICE, PRIVATE, "en", tuple(file(name) for name in names))
    record = await store.jobs.add_running(spec, WORKER, LEASE)
    return RunningJob(store.jobs, record, WORKER, LEASE)


async def claimed_again(store: Store) -> RunningJob:
    """The job, handed back and claimed anew, as its next attempt (here or elsewhere) sees it."""
    await store.jobs.release_jobs_of(WORKER)
    record = await store.jobs.claim(WORKER, LEASE, {"telegram"}, timedelta(seconds=1))
    assert record is not None
    return RunningJob(store.jobs, record, WORKER, LEASE)


def new_upload(name: str = "a.png") -> NewUpload:
    image = HostImage(
        "Ab1",
        "https://img.example.com/image/Ab1",
        "https://img.example.com/Ab1",
        "https://img.example.com/image/Ab1/delete/0f0f0f0f",
    )
    return NewUpload(ALICE, PRIVATE, name, image, 1234)


async def test_an_upload_and_the_results_holding_it_are_one_transaction(store):
    """The upload's record and the job's results are written together, and both are there."""
    job = await running(store, "a.png", "b.png")
    with transactions(store) as committed:
        result = await job.uploaded(0, new_upload())
    assert committed == ["commit"]
    assert result.upload is not None
    assert [r.id for r in await store.uploads.history(ALICE)] == [result.upload.id]
    assert (await claimed_again(store)).pending() == [1]


async def test_a_settled_file_is_one_transaction(store):
    """A duplicate is saved in one write; the next attempt does not try it again."""
    job = await running(store, "a.png", "b.png")
    with transactions(store) as committed:
        await job.settled(1, FileResult("b.png", Outcome.DUPLICATE))
    assert committed == ["commit"]
    assert (await claimed_again(store)).pending() == [0]


async def test_a_failure_that_passes_is_no_transaction(store):
    """It is said in this attempt and tried again by the next: nothing is written."""
    job = await running(store, "a.png")
    with transactions(store) as committed:
        job.failed_for_now(0, FileResult("a.png", Outcome.FAILED, transient=True))
    assert committed == []
    assert (await claimed_again(store)).pending() == [0]


async def test_a_file_that_reached_the_host_is_one_transaction(store):
    """Remembered for the next attempt, which tells a duplicate apart by it."""
    job = await running(store, "a.png")
    with transactions(store) as committed:
        await job.reached_host(0)
    assert committed == ["commit"]
    assert (await claimed_again(store)).reached(0)


async def test_the_status_handle_is_one_transaction_and_outlives_the_attempt(store):
    """A new handle is saved once; showing the same one again writes nothing."""
    job = await running(store, "a.png")
    with transactions(store) as committed:
        await job.status_shown("901")
        await job.status_shown("901")
    assert committed == ["commit"]
    assert (await claimed_again(store)).status == "901"


async def test_the_public_answer_is_one_transaction(store):
    """Once out, a retry of the job does not send it again (and has no status to replace)."""
    job = await running(store, "a.png")
    await job.status_shown("901")
    with transactions(store) as committed:
        await job.public_answer_sent()
    assert committed == ["commit"]
    again = await claimed_again(store)
    assert again.public_sent
    assert again.status is None


async def test_a_heartbeat_is_one_transaction(store):
    job = await running(store, "a.png")
    with transactions(store) as committed:
        await job.renew()
    assert committed == ["commit"]
    assert not job.lost


async def test_the_end_and_the_counts_are_one_transaction(store):
    """Finishing writes the job's end and its files' outcomes together."""
    job = await running(store, "a.png")
    with transactions(store) as committed:
        await job.finish([FileCount("telegram", "uploaded", 1234)])
    assert committed == ["commit"]
    assert await store.jobs.waiting() == 0


async def test_a_retry_later_is_one_transaction(store):
    job = await running(store, "a.png")
    with transactions(store) as committed:
        await job.retry_later(5)
    assert committed == ["commit"]
    assert await store.jobs.waiting() == 1


async def test_a_job_taken_over_is_written_no_more(store):
    """Another worker holds it now: a save finds so, and the job is lost to this one, which
    changes nothing of it from then on."""
    job = await running(store, "a.png", "b.png")
    await store.jobs.release_jobs_of(WORKER)
    other = await store.jobs.claim("worker-other", LEASE, {"telegram"}, timedelta(seconds=1))
    assert other is not None
    await job.settled(1, FileResult("b.png", Outcome.DUPLICATE))
    assert job.lost
    with transactions(store) as committed:
        assert not await job.still_mine(recent=0)
    assert committed == []
    taken = RunningJob(store.jobs, other, "worker-other", LEASE)
    assert taken.pending() == [0, 1]
