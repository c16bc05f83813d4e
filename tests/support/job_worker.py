"""A job-runner process for the kill-and-restart test: the real core, files from disk.

Run as ``python -m tests.support.job_worker``; it reads DATABASE_URL, CHEVERETO_URL,
DATA_DIR and REPLIES_FILE from the environment, appends each reply it sends to
REPLIES_FILE as a JSON line, and stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

from bot.chevereto import CheveretoClient
from bot.crypto import Vault
from bot.domain import Reply, Text
from bot.jobs.lanes import Lanes
from bot.jobs.runner import JobRunner
from bot.ops.monitor import Monitor
from bot.payloads import FileRef, JobSpec
from bot.store import Store
from bot.texts import render
from bot.tuning import Tuning
from bot.upload.service import UploadService

SECRET = "test-secret-key"


class DiskHandler:
    def __init__(self, replies: Path) -> None:
        self._replies = replies

    async def fetch(self, ref: FileRef) -> AsyncIterator[bytes]:
        """The job's file is a path on disk."""
        yield await asyncio.to_thread(Path(ref.locator).read_bytes)

    async def deliver(self, job: JobSpec, reply: Reply, status: str | None) -> bool:
        line = json.dumps(
            {"key": reply.text.key, "text": render(reply.text, job.language), "pid": os.getpid()}
        )
        with self._replies.open("a", encoding="utf-8") as out:
            out.write(line + "\n")
        return True

    async def progress(self, job: JobSpec, text: Text, status: str | None) -> str | None:
        del job, text, status
        return None


async def main() -> None:
    env = os.environ
    store = Store(env["DATABASE_URL"], Vault(SECRET))
    await store.migrate()
    client = CheveretoClient(env["CHEVERETO_URL"], timeout=60)
    service = UploadService(
        client,
        store,
        monitor=Monitor(store),
        limit_mb=lambda platform: 20,
        temp_dir=Path(env["DATA_DIR"]) / "tmp",
        lanes=Lanes.of(2, 4, 2),
    )
    runner = JobRunner(store, service, Tuning(poll_s=0.05))
    runner.register("telegram", DiskHandler(Path(env["REPLIES_FILE"])))
    task = asyncio.create_task(runner.run())
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    print("ready", flush=True)
    try:
        await task
    except asyncio.CancelledError:
        pass
    finally:
        await client.aclose()
        await store.close()


if __name__ == "__main__":
    asyncio.run(main())
