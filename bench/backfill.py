"""Backfill: a Discord channel of 10,000 past messages, every other one with a photo (5,000
files), re-hosted by ``python -m bot`` against the fake Discord and a fake host that takes
0.1 s per upload and serves at most UPLOAD_CONCURRENCY uploads at once.

Figures:
- files per second against the ideal: BACKFILL_CONCURRENCY uploads at a time, each 0.1 s
  of the host's, so 2 / 0.1 = 20 files a second (the history's reading, the bot's own work
  and the CSV come on top of it);
- peak RSS once 500 files are up and at the end (5,000): memory must not grow with the
  channel (goal: the second within 10 MB of the first);
- a live /upload's latency (command to its answer), 10 of them one after another, before
  the backfill and during it: live first, so the backfill adds at most one host upload's
  time to a live one.

Run: ``python -m bench.backfill`` (about 6 minutes; ``--files N`` for a shorter run).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as ``python bench/backfill.py``
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import BotRun, Row, machine, median, mib, ms, status_kib, table
from bot.chevereto.probe import probe_png
from bot.crypto import Vault
from bot.domain import UserRef
from bot.store import Store
from tests.support.discord_harness import ALICE_ID, OWNER_ID, TOKEN, Harness
from tests.support.fakes.chevereto import FakeChevereto
from tests.support.fakes.discord_api import FakeDiscord
from tests.support.process import CLEAN_ENV

JSON = dict[str, Any]
OWNER_KEY = "chv_bench_owner_" + "k" * 40
ALICE_KEY = "chv_bench_alice_" + "k" * 40
SECRET_KEY = "bench-secret-key"  # noqa: S105 - a fake
GUILD = 1_300_000_000_000_000_000
HISTORY = 1_300_000_000_000_000_001
LIVE = 1_300_000_000_000_000_002
HOST_S = 0.1
UPLOAD_CONCURRENCY = 4
BACKFILL_CONCURRENCY = 2
FILES = 5000
CHECKPOINT = 500
LIVE_UPLOADS = 10
SINCE = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


class NarrowHost(FakeChevereto):
    """The fake host, serving at most ``at_once`` uploads at a time (others queue)."""

    def __init__(self, at_once: int) -> None:
        super().__init__()
        self._gate = asyncio.Semaphore(at_once)

    async def _upload(self, request: Any) -> Any:  # an aiohttp request and response
        async with self._gate:
            return await super()._upload(request)


@dataclass
class Stage:
    discord: FakeDiscord
    host: NarrowHost
    root: Path

    def env(self) -> dict[str, str]:
        return {
            **CLEAN_ENV,
            "CHEVERETO_URL": self.host.url,
            "DISCORD_BOT_TOKEN": TOKEN,
            "DISCORD_API_URL": self.discord.api_url,
            "DATA_DIR": str(self.root / "data"),
            "SECRET_KEY": SECRET_KEY,
            "UPLOAD_CONCURRENCY": str(UPLOAD_CONCURRENCY),
            "BACKFILL_CONCURRENCY": str(BACKFILL_CONCURRENCY),
            "LOG_LEVEL": "WARNING",
        }


@contextlib.asynccontextmanager
async def stage(files: int) -> AsyncIterator[Stage]:
    """The fakes: a guild whose #history holds ``2 × files`` past messages, every other one
    with a unique photo, and an empty #live; the owner's and Alice's keys linked."""
    with tempfile.TemporaryDirectory(prefix="chevereto-bench-") as tmp:
        root = Path(tmp)
        async with FakeDiscord(token=TOKEN) as discord, NarrowHost(UPLOAD_CONCURRENCY) as host:
            host.delay = HOST_S
            host.add_key(OWNER_KEY, user="owner")
            host.add_key(ALICE_KEY, user="alice")
            owner = discord.user(OWNER_ID, name="owner")
            alice = discord.user(ALICE_ID, name="alice")
            channels = [{"id": HISTORY, "name": "history"}, {"id": LIVE, "name": "live"}]
            discord.add_guild(GUILD, owner_id=OWNER_ID, channels=channels, members=[owner, alice])

            def photo(n: int) -> list[JSON]:
                if n % 2:
                    return []
                data = probe_png()
                return [
                    discord.add_attachment(data, filename=f"p{n}.png", content_type="image/png")
                ]

            discord.seed_history(HISTORY, owner, 2 * files, since=SINCE, attachments=photo)
            await link_keys(root / "data")
            yield Stage(discord, host, root)


async def link_keys(data_dir: Path) -> None:
    await asyncio.to_thread(data_dir.mkdir, parents=True)
    store = Store(f"sqlite+aiosqlite:///{data_dir / 'bot.sqlite3'}", Vault(SECRET_KEY))
    try:
        await store.migrate()
        await store.keys.link(UserRef("discord", str(OWNER_ID)), OWNER_KEY)
        await store.keys.link(UserRef("discord", str(ALICE_ID)), ALICE_KEY)
    finally:
        await store.close()


async def live_upload(h: Harness) -> float:
    """One /upload of a fresh photo by Alice in #live: seconds from the command to its answer."""
    attachment = h.fake.add_attachment(probe_png(), filename="live.png", content_type="image/png")
    option = h.fake.attachment_option("file", attachment)
    started = time.monotonic()  # the fake stamps each request with time.monotonic()
    payload = await h.slash("upload", option, user_id=ALICE_ID, channel_id=LIVE, guild_id=GUILD)
    answer = await h.answer_of(payload, "Short link", timeout=60)
    return answer.at - started


async def live_latencies(h: Harness, count: int, pause: float = 0.5) -> list[float]:
    latencies = []
    for _ in range(count):
        latencies.append(await live_upload(h))
        await asyncio.sleep(pause)
    return latencies


def uploaded_by(host: FakeChevereto, user: str) -> int:
    return sum(1 for image in host.images.values() if image.owner == user)


async def ready(s: Stage) -> None:
    """The bot connected and synced its commands."""
    await s.discord.wait_for(lambda r: r.path.endswith("/commands"), timeout=60)
    await s.discord.wait_for(lambda r: r.path.endswith("/gateway/bot"), timeout=60)
    await asyncio.sleep(1)


async def backfill_run(s: Stage, files: int) -> list[Row]:
    h = Harness(s.discord, s.host, None, None)  # type: ignore[arg-type]
    checkpoint = min(CHECKPOINT, files // 10)
    async with BotRun(s.env(), s.root / "bot") as bot:
        await ready(s)
        before = await live_latencies(h, LIVE_UPLOADS)

        limit = {"name": "limit", "type": 4, "value": 2 * files}
        sub = {"name": "start", "type": 1, "options": [limit]}
        started = time.perf_counter()
        payload = await h.slash(
            "backfill", sub, user_id=OWNER_ID, channel_id=HISTORY, guild_id=GUILD
        )
        await h.answer_of(payload, "Backfill started", timeout=60)
        rss_at_checkpoint = 0
        during: asyncio.Task[list[float]] | None = None
        while uploaded_by(s.host, "owner") < files:
            if during is None and uploaded_by(s.host, "owner") >= checkpoint:
                rss_at_checkpoint = status_kib(bot.pid, "VmHWM")
                during = asyncio.create_task(live_latencies(h, LIVE_UPLOADS))
            await asyncio.sleep(0.05)
            if bot.process is not None and bot.process.returncode is not None:
                raise RuntimeError(f"the bot stopped:\n{bot.log()[-3000:]}")
        last_upload = time.perf_counter()
        sent = await s.discord.wait_for(lambda r: r.method == "POST" and bool(r.files), timeout=120)
        answered = [r.finished for r in s.host.upload_requests if r.finished is not None]
        csv_after = sent.at - max(answered)  # both stamped with time.monotonic()
        rss_end = status_kib(bot.pid, "VmHWM")
        assert during is not None
        live = await during

    seconds = last_upload - started
    rate = files / seconds
    ideal = BACKFILL_CONCURRENCY / HOST_S
    grown = (rss_end - rss_at_checkpoint) / 1024
    hosted = uploaded_by(s.host, "owner")
    slower = median(live) - median(before)
    return [
        Row("files re-hosted, each once", f"{hosted} of {files}", str(files), hosted == files),
        Row("files per second (command → last upload)", f"{rate:.1f} in {seconds:.1f} s"),
        Row("against the ideal (lane / host time)", f"{rate / ideal:.2f} of {ideal:.0f}/s"),
        Row("the host's last answer → the CSV in the DM", ms(csv_after)),
        Row(f"peak RSS at {checkpoint} files", mib(rss_at_checkpoint)),
        Row(f"peak RSS at {files} files", mib(rss_end), "≤ the first + 10 MB", grown <= 10),
        Row("live /upload latency, no backfill (median of 10)", ms(median(before))),
        Row(
            "live /upload latency, during the backfill (median of 10)",
            ms(median(live)),
            f"≤ no backfill + {HOST_S * 1000:.0f} ms (one host upload)",
            slower <= HOST_S,
        ),
        Row("live /upload latency, during the backfill (worst)", ms(max(live))),
    ]


async def main(files: int) -> None:
    async with stage(files) as s:
        rows = await backfill_run(s, files)
    print(f"Backfill, {time.strftime('%Y-%m-%d')}: {machine()}")
    print(
        f"UPLOAD_CONCURRENCY={UPLOAD_CONCURRENCY}, BACKFILL_CONCURRENCY={BACKFILL_CONCURRENCY},"
        f" host {HOST_S} s per upload, at most {UPLOAD_CONCURRENCY} at once"
    )
    print(table(rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=FILES)
    asyncio.run(main(parser.parse_args().files))
