"""Replicas: the burst of ``bench.burst`` (100 photos from 20 users, host 0.2 s per upload,
UPLOAD_CONCURRENCY=8 per process) on PostgreSQL, taken by one replica and then by two, in
webhook mode behind one address (a round-robin proxy, as a load balancer spreads Telegram's
POSTs). Each run is a fresh database and fresh processes; every user uploads with the
shared key.

The wall time runs from the push to the last answer. Two replicas have twice the upload
slots, so they may be faster; the goal is that they are no slower and answer each photo once.

Run: ``python -m bench.replicas --postgres postgresql+asyncpg://user@127.0.0.1:5432/postgres``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as ``python bench/replicas.py``
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.burst import DELAY_S, PHOTOS, TIMEOUT_S, answered_messages, fresh_database, photos, until
from bench.common import Row, machine, stage, table
from tests.support.scale_out import Replica, RoundRobinProxy, free_ports

CONCURRENCY = 8
WEBHOOK_SECRET = "bench-webhook-secret"  # noqa: S105 - the fake Telegram's, for this run


@dataclass(frozen=True, slots=True)
class Outcome:
    replicas: int
    seconds: float
    answered: int
    answered_twice: int
    uploads: int
    by_replica: list[int]
    """Answers sent by each replica."""


async def one(replicas: int, postgres: str) -> Outcome:
    ports = free_ports(replicas)
    async with (
        stage() as s,
        fresh_database(postgres) as database,
        RoundRobinProxy([f"http://127.0.0.1:{port}" for port in ports]) as proxy,
        contextlib.AsyncExitStack() as stack,
    ):
        s.chevereto.delay = DELAY_S
        env = s.env(
            s.root / "data",
            UPLOAD_CONCURRENCY=str(CONCURRENCY),
            TELEGRAM_WEBHOOK_URL=f"{proxy.url}/telegram",
            TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET,
            **database,
        )
        running = [
            await stack.enter_async_context(
                Replica(f"r{n}", {**env, "TELEGRAM_WEBHOOK_LISTEN": f"127.0.0.1:{port}"}, s.root)
            )
            for n, port in enumerate(ports)
        ]
        async with asyncio.timeout(60):
            while len(s.telegram.calls_to("setWebhook")) < replicas:  # noqa: ASYNC110 - the fake keeps a list, no event
                await asyncio.sleep(0.05)
        updates, asked = photos(s)
        start = time.perf_counter()
        for update in updates:
            s.telegram.push_update(update)
        await until(s, lambda: asked <= s.telegram.answers(s.chevereto.url).keys(), TIMEOUT_S)
        await asyncio.sleep(1.0)  # anything sent twice would come now
        await asyncio.gather(*(replica.stop() for replica in running))
        answers = s.telegram.answers(s.chevereto.url)
        done = [answers[k] for k in asked if k in answers]
        twice = Counter(answered_messages(s).values())
        by_replica = Counter(f.backend for f in proxy.forwarded)
    return Outcome(
        replicas,
        max(done) - start if done else float("nan"),
        len(done),
        sum(c > 1 for c in twice.values()),
        len(s.chevereto.upload_requests),
        [by_replica[n] for n in range(replicas)],
    )


def rows(one_replica: Outcome, two: Outcome) -> list[Row]:
    out = []
    for o in (one_replica, two):
        label = f"{o.replicas} replica{'s' if o.replicas > 1 else ''}"
        all_in = o.answered == PHOTOS
        out += [
            Row(f"{label}: answered, none lost", f"{o.answered} / {PHOTOS}", str(PHOTOS), all_in),
            Row(f"{label}: answered twice", str(o.answered_twice), "0", not o.answered_twice),
            Row(f"{label}: upload requests at the host", str(o.uploads), str(PHOTOS)),
            Row(f"{label}: updates each replica received", " + ".join(map(str, o.by_replica))),
            Row(f"{label}: wall time, push → last answer", f"{o.seconds:.2f} s"),
        ]
    faster = two.seconds <= one_replica.seconds
    out.append(
        Row(
            "two replicas against one", f"{two.seconds / one_replica.seconds:.2f}", "≤ 1.00", faster
        )
    )
    return out


async def measure(postgres: str) -> tuple[Outcome, Outcome]:
    return await one(1, postgres), await one(2, postgres)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", required=True, help="postgresql+asyncpg://…")
    args = parser.parse_args()
    one_replica, two = asyncio.run(measure(args.postgres))
    print(f"## replicas: {PHOTOS} photos from 20 users, PostgreSQL, webhook mode\n\n{machine()}\n")
    print(table(rows(one_replica, two)))


if __name__ == "__main__":
    main()
