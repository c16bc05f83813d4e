"""A job-runner process for the kill-and-restart test: the real core, files from disk.

Run as ``python -m tests.support.job_worker``; it reads DATABASE_URL, CHEVERETO_URL,
DATA_DIR and REPLIES_FILE from the environment, appends each reply it sends to
REPLIES_FILE as a JSON line, and stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
from pathlib import Path

from bot.chevereto import CheveretoClient
from bot.crypto import Vault
from bot.domain import IncomingMedia, Platform, Reply, Text, media_kind
from bot.jobs import JobRunner, JobSpec
from bot.store import Store
from bot.texts import render
from bot.upload import UploadService

SECRET = "test-secret-key"


class DiskHandler:
    def __init__(self, replies: Path) -> None:
        self._replies = replies

    def media(self, spec: JobSpec) -> list[IncomingMedia]:
        return [self._one(spec, Path(item["path"])) for item in spec.items]

    def _one(self, spec: JobSpec, source: Path) -> IncomingMedia:
        async def fetch(path: Path) -> None:
            await asyncio.to_thread(shutil.copyfile, source, path)

        return IncomingMedia(
            spec.user,
            spec.chat,
            media_kind("image/png"),
            source.name,
            "image/png",
            source.stat().st_size,
            fetch,
        )

    async def send(self, spec: JobSpec, reply: Reply) -> bool:
        line = json.dumps(
            {"key": reply.text.key, "text": render(reply.text, spec.language), "pid": os.getpid()}
        )
        with self._replies.open("a", encoding="utf-8") as out:
            out.write(line + "\n")
        return True

    async def progress(self, spec: JobSpec, text: Text) -> None:
        del spec, text


async def main() -> None:
    env = os.environ
    store = Store(env["DATABASE_URL"], Vault(SECRET))
    await store.migrate()
    client = CheveretoClient(env["CHEVERETO_URL"], timeout=60)
    service = UploadService(
        client,
        store,
        limits_mb={Platform.TELEGRAM: 20},
        temp_dir=Path(env["DATA_DIR"]) / "tmp",
        concurrency=2,
    )
    runner = JobRunner(store, service, poll_s=0.05)
    runner.register(Platform.TELEGRAM, DiskHandler(Path(env["REPLIES_FILE"])))
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
