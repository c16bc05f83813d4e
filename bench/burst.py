"""Burst: 100 photos from 20 users (5 each, private chats) pushed to the fake Telegram at once.

The fake Chevereto takes a fixed ``delay`` per upload (0.2 s), so the best the bot can
do is ceil(100 / UPLOAD_CONCURRENCY) × delay. Four runs, each in a fresh bot with
UPLOAD_CONCURRENCY=8: on SQLite and on PostgreSQL (``--postgres URL``, a server the
benchmark may create databases on; without it, SQLite only), each with every user's own
linked key and with DEFAULT_API_KEY (the shared key, which also counts each upload
against SHARED_KEY_DAILY_LIMIT).
The wall time runs from the push to the last public answer (the message with the viewer
URL and, in a private chat, the delete link, stamped when the fake receives it). Then the
run counts: answers, photos never answered (lost), photos answered twice, and upload
requests the host received (more than 100 means a photo was uploaded twice). The bot's
CPU per photo is its process's user + system time from the push to the last answer,
divided by 100.
Goal: 100 answered, none twice, wall time <= 3.0 s on SQLite and 3.5 s on PostgreSQL
(the ideal is 100 × 0.2 / 8 = 2.5 s), CPU <= 20 ms per photo.

Telegram lets a bot send about 30 messages a second, and the bot's rate limiter
(PTB's AIORateLimiter) keeps to that: each photo gets one message in a private chat,
so 100 photos need at least (100 - 30) / 30 ≈ 2.3 s of sending once the limiter's
burst of 30 is spent. The table shows that floor beside the ideal.

Run: ``python -m bench.burst [--postgres postgresql+asyncpg://user@127.0.0.1:5432/postgres]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg

if __package__ in (None, ""):  # run as ``python bench/burst.py``
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import BotRun, Row, Stage, cpu_seconds, machine, stage, table, wait_ready
from bot.chevereto.probe import probe_png

PHOTOS = 100
USERS = 20
DELAY_S = 0.2
CONCURRENCY = 8
WALL_GOAL_S = {"SQLite": 3.0, "PostgreSQL": 3.5}
CPU_GOAL_S = 0.020
TELEGRAM_RATE = 30
"""Messages a second PTB's AIORateLimiter allows (Telegram's documented bot-wide limit)."""
FIRST_USER = 5001
TIMEOUT_S = 120.0


@dataclass(frozen=True, slots=True)
class Variant:
    database: str
    """SQLite, or PostgreSQL."""
    own_keys: bool
    """Each user linked a key of their own; else all upload with DEFAULT_API_KEY."""

    @property
    def label(self) -> str:
        return f"{self.database}, {'own keys' if self.own_keys else 'shared key'}"


@dataclass(frozen=True, slots=True)
class Outcome:
    variant: Variant
    seconds: float
    cpu_s: float
    loop_cpu_s: float
    """The event loop's thread alone; the rest is the database driver's and the disk writer's."""
    answered: int
    answered_twice: int
    uploads: int


def photos(s: Stage) -> tuple[list[dict[str, object]], set[tuple[int, int]]]:
    """100 updates, 5 per user, each a unique tiny PNG; and (chat, message) of each."""
    updates, asked = [], set()
    for n in range(PHOTOS):
        user_id = FIRST_USER + n % USERS
        ref = s.telegram.add_file(probe_png(), mime_type="image/png")
        update, message_id = s.private_photo(user_id, ref)
        updates.append(update)
        asked.add((user_id, message_id))
    return updates, asked


async def until(s: Stage, check: Callable[[], bool], within: float) -> None:
    """Returns once ``check()`` holds, woken by each message the fake receives; gives up
    after ``within`` seconds (the count then shows what was lost)."""
    with contextlib.suppress(TimeoutError):
        # checked once per wake-up (on the newest message), not once per message
        await s.telegram.wait_for(lambda m: m is s.telegram.sent[-1] and check(), timeout=within)


async def link_keys(s: Stage) -> None:
    """Each user links a key of their own with /link, before the burst."""
    users = [FIRST_USER + n for n in range(USERS)]
    for user_id in users:
        key = f"chv_bench_{user_id}_{secrets.token_hex(12)}"
        s.chevereto.add_key(key, user=f"user{user_id}")
        user = s.telegram.user(user_id)
        chat = s.telegram.private_chat(user)
        s.telegram.push_update(s.telegram.message_update(chat, user, text=f"/link {key}"))

    def linked() -> bool:
        done = {m["chat_id"] for m in s.telegram.sent if "is linked" in (m["text"] or "")}
        return done >= set(users)

    await until(s, linked, TIMEOUT_S)
    assert linked(), "not every user could link a key"


def answered_messages(s: Stage) -> dict[tuple[int, int], tuple[int, int]]:
    """Each message of the bot that became an answer (it shows the viewer URL, when sent or
    once edited), by (chat, message id): the (chat, message) it answered. A photo answered
    twice has two."""
    viewer = f"{s.chevereto.url}/image/"
    sent = {
        (m["chat_id"], m["message_id"]): (m["chat_id"], m["reply_to"])
        for m in s.telegram.sent
        if m["method"] == "sendMessage" and m["reply_to"] is not None
    }
    shown = {
        (m["chat_id"], m["message_id"]) for m in s.telegram.sent if viewer in (m["text"] or "")
    }
    return {key: asked for key, asked in sent.items() if key in shown}


@contextlib.asynccontextmanager
async def fresh_database(postgres: str | None) -> AsyncIterator[dict[str, str]]:
    """DATABASE_URL of a new, empty PostgreSQL database, dropped after; nothing for SQLite."""
    if postgres is None:
        yield {}
        return
    name = f"bench_{secrets.token_hex(6)}"
    plain = postgres.replace("+asyncpg", "")
    admin = await asyncpg.connect(plain)
    try:
        await admin.execute(f"CREATE DATABASE {name}")
        try:
            yield {"DATABASE_URL": postgres.rsplit("/", 1)[0] + f"/{name}"}
        finally:
            await admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
    finally:
        await admin.close()


@contextlib.asynccontextmanager
async def profiled(pid: int, into: Path | None) -> AsyncIterator[None]:
    """With ``into``, py-spy samples the bot (250 a second, every thread, without pausing it,
    so the figures barely move) while the block runs, and writes the collapsed stacks there."""
    if into is None:
        yield
        return
    into.parent.mkdir(parents=True, exist_ok=True)
    spy = await asyncio.create_subprocess_exec(
        "py-spy", "record", "--nonblocking", "--threads", "-r", "250", "-f", "raw",
        "-o", str(into), "--pid", str(pid),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    await asyncio.sleep(0.5)  # attached
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        await spy.wait()


async def one(variant: Variant, postgres: str | None, profile: Path | None = None) -> Outcome:
    """A fresh bot takes the whole burst; with ``profile``, under py-spy."""
    async with stage() as s, fresh_database(postgres) as database:
        s.chevereto.delay = DELAY_S
        env = s.env(s.root / "data", UPLOAD_CONCURRENCY=str(CONCURRENCY), **database)
        if variant.own_keys:
            del env["DEFAULT_API_KEY"]
        async with BotRun(env, s.root / "bot") as bot:
            await wait_ready(s.telegram)
            if variant.own_keys:
                await link_keys(s)
            updates, asked = photos(s)
            checks = len(s.chevereto.upload_requests)  # /link tries each key with an upload
            async with profiled(bot.pid, profile):
                cpu_before = cpu_seconds(bot.pid)
                loop_before = cpu_seconds(bot.pid, bot.pid)
                start = time.perf_counter()
                for update in updates:
                    s.telegram.push_update(update)
                answered = lambda: asked <= s.telegram.answers(s.chevereto.url).keys()  # noqa: E731
                await until(s, answered, TIMEOUT_S)
                cpu = cpu_seconds(bot.pid) - cpu_before
                loop_cpu = cpu_seconds(bot.pid, bot.pid) - loop_before
            await asyncio.sleep(1.0)  # anything sent twice would come now
        answers = s.telegram.answers(s.chevereto.url)
        done = [answers[k] for k in asked if k in answers]
        twice = Counter(answered_messages(s).values())
        seconds = max(done) - start if done else float("nan")
        uploads = len(s.chevereto.upload_requests) - checks
    answered_twice = sum(c > 1 for c in twice.values())
    return Outcome(variant, seconds, cpu, loop_cpu, len(done), answered_twice, uploads)


def rows(outcome: Outcome) -> list[Row]:
    v, goal = outcome.variant.label, WALL_GOAL_S[outcome.variant.database]
    all_in = outcome.answered == PHOTOS
    per_photo, loop_per_photo = outcome.cpu_s / PHOTOS, outcome.loop_cpu_s / PHOTOS
    return [
        Row(f"{v}: answered, none lost", f"{outcome.answered} / {PHOTOS}", str(PHOTOS), all_in),
        Row(f"{v}: answered twice", str(outcome.answered_twice), "0", not outcome.answered_twice),
        Row(
            f"{v}: upload requests at the host",
            str(outcome.uploads),
            str(PHOTOS),
            outcome.uploads == PHOTOS,
        ),
        Row(
            f"{v}: wall time, push → last answer",
            f"{outcome.seconds:.2f} s",
            f"≤ {goal:.2f} s",
            outcome.seconds <= goal,
        ),
        Row(
            f"{v}: the bot's CPU per photo",
            f"{per_photo * 1000:.1f} ms",
            f"≤ {CPU_GOAL_S * 1000:.0f} ms",
            per_photo <= CPU_GOAL_S,
        ),
        Row(f"{v}: of which the event loop's thread", f"{loop_per_photo * 1000:.1f} ms"),
    ]


async def measure(postgres: str | None, profiles: Path | None) -> list[Outcome]:
    databases = [("SQLite", None)] + ([("PostgreSQL", postgres)] if postgres else [])
    outcomes = []
    for name, url in databases:
        for own_keys in (True, False):
            variant = Variant(name, own_keys)
            name_of = variant.label.replace(", ", "-").replace(" ", "-")
            into = None if profiles is None else profiles / f"{name_of}.txt"
            outcomes.append(await one(variant, url, into))
    return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", help="a PostgreSQL URL (postgresql+asyncpg://…)")
    parser.add_argument("--profile", type=Path, help="a folder for py-spy's collapsed stacks")
    args = parser.parse_args()
    outcomes = asyncio.run(measure(args.postgres, args.profile))
    ideal = PHOTOS * DELAY_S / CONCURRENCY
    floor = (PHOTOS - TELEGRAM_RATE) / TELEGRAM_RATE
    print(
        f"## burst: {PHOTOS} photos from {USERS} users at once, host delay {DELAY_S} s, "
        f"UPLOAD_CONCURRENCY={CONCURRENCY}\n\n{machine()}; ideal {ideal:.2f} s; "
        f"Telegram's 30 msg/s floor for {PHOTOS} messages {floor:.2f} s\n"
    )
    print(table(row for outcome in outcomes for row in rows(outcome)))


if __name__ == "__main__":
    main()
