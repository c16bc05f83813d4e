"""/stats: numbers for BOT_ADMINS in private, the refusal for anyone else; counted per replica
in the metrics and across replicas in the database."""

from bot.access import Access
from bot.app import Core
from bot.commands import Commands
from bot.domain import Outcome
from bot.errors import HostNotAnswering, HostUnavailable
from bot.ops.monitor import Monitor
from bot.payloads import JobSpec
from bot.store import FileCount, Store
from bot.texts import render
from tests.conftest import ALICE, BOB, GROUP, KEY, PRIVATE, ctx, texts
from tests.support.job_handler import file
from tests.support.settings import core_settings


async def finish_job(store: Store, *counts: FileCount) -> None:
    """A job ends as the runner ends it: its files' outcomes are written with its end."""
    job_id = await store.jobs.add(JobSpec(ALICE, PRIVATE, "en", (file("a.png"),)))
    await store.jobs.finish(job_id, counts)


def commands_for(store, client) -> Commands:
    access = Access(set(), set(), {("telegram", ALICE.id)})
    return Commands(store, client, site="x", default_key=None, texts=texts, access=access)


async def test_stats_for_an_admin_in_private(store, client):
    """Today's and the week's files by outcome, bytes, linked users, jobs, the last host error."""
    monitor = Monitor(store)
    await store.keys.link(BOB, KEY)
    await finish_job(
        store,
        FileCount("telegram", Outcome.UPLOADED.value, 3 * 1024 * 1024),
        FileCount("telegram", Outcome.DUPLICATE.value),
    )
    await finish_job(store, FileCount("discord", Outcome.UPLOADED.value, 1024 * 1024))
    await finish_job(store, FileCount("telegram", Outcome.FAILED.value))
    await monitor.host_error(HostUnavailable("down"))
    shown = render((await commands_for(store, client).stats(ctx())).text, "en")
    assert shown.count("2 uploaded, 1 already on the host, 1 failed; 4.0 MB") == 2
    assert "Users with a linked key: 1" in shown
    assert "Jobs waiting: 0" in shown
    assert "Last host error: unavailable at " in shown
    assert shown.endswith("\nHost: up")


async def test_stats_say_since_when_the_host_is_down(chevereto, tmp_path, database):
    """Once the core's host watch takes the host as down, /stats says since when (UTC), and that
    uploads wait for it."""
    settings = core_settings(chevereto, tmp_path, database, bot_admins=f"telegram:{ALICE.id}")
    core = await Core.start(settings)
    try:
        for _ in range(5):
            core.watch.report(HostNotAnswering("upload failed: ConnectError"))
        since = core.watch.down_since
        assert since is not None
        shown = render((await core.commands.stats(ctx())).text, "en")
    finally:
        await core.close()
    assert shown.endswith(f"\nHost: down since {since:%Y-%m-%d %H:%M} UTC; uploads wait for it")


async def test_stats_refuse_anyone_else_and_say_no_number(store, client):
    """A user who is not an admin hears the refusal; an admin in a group is sent to private."""
    commands = commands_for(store, client)
    await finish_job(store, FileCount("telegram", Outcome.UPLOADED.value, 10))
    refused = render((await commands.stats(ctx(BOB))).text, "en")
    assert "not allowed" in refused
    assert not any(c.isdigit() for c in refused)
    in_group = render((await commands.stats(ctx(chat=GROUP))).text, "en")
    assert "private chat" in in_group
    assert not any(c.isdigit() for c in in_group)


async def test_metrics_count_what_happened(store):
    """The Prometheus text has the counters, labelled, and the jobs gauge."""
    monitor = Monitor(store)
    await monitor.files_done([FileCount("telegram", Outcome.UPLOADED.value, 2048)])
    await monitor.host_error(HostUnavailable("down"))
    monitor.answered(0.3)
    text = (await monitor.exposition()).decode()
    assert 'chevereto_bot_uploads_total{outcome="uploaded",platform="telegram"} 1.0' in text
    assert 'chevereto_bot_upload_bytes_total{platform="telegram"} 2048.0' in text
    assert 'chevereto_bot_host_errors_total{kind="unavailable"} 1.0' in text
    assert "chevereto_bot_upload_seconds_count 1.0" in text
    assert "chevereto_bot_jobs_waiting 0.0" in text
    assert "chevereto_bot_host_up 1.0" in text
