"""Nothing accepted is lost: a worker killed mid-upload finishes the job after a restart,
and the data folder never holds a key or a delete link in clear."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import pytest

from bot.chevereto.probe import probe_png
from bot.commands import Commands
from bot.crypto import Vault
from bot.jobs.lanes import Lanes
from bot.jobs.runner import JobRunner
from bot.ops.monitor import Monitor
from bot.payloads import FileRef, JobSpec
from bot.store import Store
from bot.texts import render
from bot.tuning import Tuning
from bot.upload.service import UploadService
from tests.conftest import ALICE, KEY, LIMITS_MB, PRIVATE, SECRET, ctx, texts
from tests.support.job_handler import RecordingHandler, file
from tests.support.jobs import running, unfinished_jobs
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]


async def start_worker(env: dict[str, str]) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.support.job_worker",
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    async with asyncio.timeout(30):
        assert (await process.stdout.readline()).strip() == b"ready"
    return process


async def no_unfinished_jobs_in(store: Store) -> bool:
    return await unfinished_jobs(store) == 0


def replies(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.slow
async def test_killed_mid_upload_finishes_after_restart(tmp_path, chevereto):
    """SIGKILL during an upload, then a restart: the job is uploaded and answered exactly once."""
    data_dir = tmp_path / "data"
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"
    store = Store(url, Vault(SECRET))
    await store.migrate()
    await store.keys.link(ALICE, KEY)
    photo = tmp_path / "photo.png"
    photo.write_bytes(probe_png())
    out = tmp_path / "replies.jsonl"
    env = {
        "DATABASE_URL": url,
        "CHEVERETO_URL": chevereto.url,
        "DATA_DIR": str(data_dir),
        "REPLIES_FILE": str(out),
    }
    chevereto.hang_next(3)
    first = await start_worker(env)
    ref = FileRef(photo.name, "image/png", photo.stat().st_size, str(photo))
    await store.jobs.add(JobSpec(ALICE, PRIVATE, "en", (ref,)))
    await eventually(lambda: bool(chevereto.upload_requests))
    first.send_signal(signal.SIGKILL)
    await first.wait()
    assert replies(out) == []
    second = await start_worker(env)
    try:
        await eventually(lambda: len(replies(out)) >= 1, within=30)
        await eventually(lambda: no_unfinished_jobs_in(store), within=30)
        await asyncio.sleep(0.5)
    finally:
        second.send_signal(signal.SIGTERM)
        await second.wait()
    answers = replies(out)
    assert [a["key"] for a in answers] == ["lines"]
    assert {a["pid"] for a in answers} == {second.pid}
    assert "/image/" in answers[0]["text"]
    assert "/delete/" in answers[0]["text"]
    assert len(chevereto.images) == 1
    assert second.returncode == 0
    await store.close()


async def test_data_dir_holds_no_key_and_no_delete_link(tmp_path, chevereto, client):
    """After linking a key, uploading and listing history, no file in DATA_DIR holds either."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    store = Store(f"sqlite+aiosqlite:///{data_dir / 'bot.sqlite3'}", Vault(SECRET))
    await store.migrate()
    commands = Commands(store, client, site=chevereto.url, default_key=None, texts=texts)
    await commands.link(ctx(), KEY)
    service = UploadService(
        client,
        store,
        monitor=Monitor(store),
        limit_mb=LIMITS_MB.__getitem__,
        temp_dir=data_dir / "tmp",
        lanes=Lanes.of(2, 4, 2),
    )
    runner = JobRunner(store, service, Tuning(poll_s=0.05))
    handler = RecordingHandler({"a.png": probe_png(), "b.png": probe_png()})
    runner.register("telegram", handler)
    async with running(runner, store):
        await runner.submit(JobSpec(ALICE, PRIVATE, "en", (file("a.png"), file("b.png"))))
        (answer,) = await handler.wait_for_replies(1)
    assert render(answer.text, "en").count("/delete/") == 2  # sent, and not kept in DATA_DIR
    await commands.history(ctx())
    await store.close()
    delete_links = [image.delete_hash for image in chevereto.images.values()]
    assert len(delete_links) == 2
    for path in data_dir.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert KEY.encode() not in content, path
            assert b"/delete/" not in content, path
            for secret in delete_links:
                assert secret.encode() not in content, path
