"""Burst: 100 photos from 20 users (5 each, private chats) pushed to the fake Telegram at once.

The fake Chevereto takes a fixed ``delay`` per upload (0.2 s), so the best the bot can
do is ceil(100 / UPLOAD_CONCURRENCY) × delay. Every user uploads with DEFAULT_API_KEY.
The wall time runs from the push to the last public answer (the message with the viewer
URL and, in a private chat, the delete link, stamped when the fake receives it). Then the
run counts: answers, photos never answered (lost), photos answered twice, and upload
requests the host received (more than 100 means a photo was uploaded twice).
UPLOAD_CONCURRENCY=8, in a fresh bot.
Goal: 100 answered, none twice, wall time <= 1.2 × ideal (100 × 0.2 / 8 = 2.5 s).

Telegram lets a bot send about 30 messages a second, and the bot's rate limiter
(PTB's AIORateLimiter) keeps to that: each photo gets one message in a private chat,
so 100 photos need at least (100 - 30) / 30 ≈ 2.3 s of sending once the limiter's
burst of 30 is spent. The table shows that floor beside the ideal.

Run: ``python -m bench.burst``.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as ``python bench/burst.py``
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import BotRun, Row, Stage, machine, stage, table, wait_ready
from bot.chevereto.probe import probe_png

PHOTOS = 100
USERS = 20
DELAY_S = 0.2
CONCURRENCIES = (8,)
GOAL_FACTOR = 1.2
TELEGRAM_RATE = 30
"""Messages a second PTB's AIORateLimiter allows (Telegram's documented bot-wide limit)."""
FIRST_USER = 5001
TIMEOUT_S = 120.0


@dataclass(frozen=True, slots=True)
class Outcome:
    concurrency: int
    seconds: float
    answered: int
    answered_twice: int
    uploads: int

    @property
    def ideal(self) -> float:
        return PHOTOS * DELAY_S / self.concurrency


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


async def one(concurrency: int) -> Outcome:
    """A fresh bot with UPLOAD_CONCURRENCY=``concurrency`` takes the whole burst."""
    async with stage() as s:
        s.chevereto.delay = DELAY_S
        env = s.env(s.root / "data", UPLOAD_CONCURRENCY=str(concurrency))
        async with BotRun(env, s.root / "bot"):
            await wait_ready(s.telegram)
            updates, asked = photos(s)
            start = time.perf_counter()
            for update in updates:
                s.telegram.push_update(update)
            await until(s, lambda: asked <= s.telegram.answers(s.chevereto.url).keys(), TIMEOUT_S)
            await asyncio.sleep(1.0)  # anything sent twice would come now
        answers = s.telegram.answers(s.chevereto.url)
        done = [answers[k] for k in asked if k in answers]
        twice = Counter(answered_messages(s).values())
        seconds = max(done) - start if done else float("nan")
        uploads = len(s.chevereto.upload_requests)
    return Outcome(concurrency, seconds, len(done), sum(c > 1 for c in twice.values()), uploads)


def rows(outcome: Outcome) -> list[Row]:
    c, goal = outcome.concurrency, GOAL_FACTOR * outcome.ideal
    floor = (PHOTOS - TELEGRAM_RATE) / TELEGRAM_RATE
    all_in = outcome.answered == PHOTOS
    return [
        Row(f"C={c}: answered", f"{outcome.answered} / {PHOTOS}", str(PHOTOS), all_in),
        Row(f"C={c}: lost", str(PHOTOS - outcome.answered), "0", all_in),
        Row(f"C={c}: answered twice", str(outcome.answered_twice), "0", not outcome.answered_twice),
        Row(
            f"C={c}: upload requests at the host",
            str(outcome.uploads),
            str(PHOTOS),
            outcome.uploads == PHOTOS,
        ),
        Row(f"C={c}: ideal {PHOTOS} × {DELAY_S} s / {c}", f"{outcome.ideal:.2f} s"),
        Row(f"C={c}: Telegram's 30 msg/s floor for {PHOTOS} messages", f"{floor:.2f} s"),
        Row(
            f"C={c}: wall time, push → last answer",
            f"{outcome.seconds:.2f} s",
            f"≤ {goal:.2f} s",
            outcome.seconds <= goal,
        ),
    ]


async def measure() -> list[Outcome]:
    return [await one(c) for c in CONCURRENCIES]


def main() -> None:
    outcomes = asyncio.run(measure())
    print(
        f"## burst: {PHOTOS} photos from {USERS} users at once, host delay {DELAY_S} s\n\n"
        f"{machine()}\n"
    )
    print(table(row for outcome in outcomes for row in rows(outcome)))


if __name__ == "__main__":
    main()
