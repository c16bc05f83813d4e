"""The baseline every transfer benchmark compares the bot with: a plain client that downloads
a Telegram file, then uploads it, one step after the other.

It does what a bot without a pipe does, and nothing else: getFile, a streamed download of
the file to a temp file, then a multipart upload of that file to the fake Chevereto, all
on one persistent ``httpx.AsyncClient`` (a warm connection). It runs in its own process
(``python -m bench.direct``), so it has a core of its own while the fakes serve it, and
it reports the wall-clock and CPU seconds of each transfer.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as ``python bench/direct.py``
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from bench.common import KEY, TOKEN, Stage

REPO = Path(__file__).resolve().parents[1]
CHUNK = 256 * 1024


@dataclass(frozen=True, slots=True)
class Sample:
    """One run: wall-clock seconds, and CPU seconds the client's process used."""

    wall: float
    cpu: float


async def transfer(
    http: httpx.AsyncClient, urls: tuple[str, str, str], file_id: str, name: str, mime: str
) -> float:
    """getFile, download to a temp file, multipart upload; the seconds it took."""
    api, files, site = urls
    with tempfile.TemporaryDirectory(prefix="bench-direct-") as tmp:
        target = Path(tmp) / "file.part"
        start = time.perf_counter()
        got = await http.post(f"{api}{TOKEN}/getFile", data={"file_id": file_id})
        file_path = got.json()["result"]["file_path"]
        async with http.stream("GET", f"{files}{TOKEN}/{file_path}") as response:
            with target.open("wb") as out:
                async for chunk in response.aiter_bytes(CHUNK):
                    out.write(chunk)
        with target.open("rb") as source:  # httpx reads it in chunks
            answer = await http.post(
                f"{site}/api/1/upload",
                headers={"X-API-Key": KEY},
                data={"format": "json"},
                files={"source": (name, source, mime)},
            )
        elapsed = time.perf_counter() - start
    if answer.status_code != 200 or "image" not in answer.json():
        raise RuntimeError(f"direct upload failed: HTTP {answer.status_code}")
    return elapsed


async def worker(api: str, files: str, site: str) -> None:
    """Reads ``file_id name mime`` per stdin line; answers ``wall cpu`` seconds of its transfer."""
    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient(timeout=120.0) as http:
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            file_id, name, mime = line.split()
            cpu = time.process_time()
            wall = await transfer(http, (api, files, site), file_id, name, mime)
            print(f"{wall:.6f} {time.process_time() - cpu:.6f}", flush=True)


class Direct:
    """The baseline client's process, asked for one transfer at a time."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process

    @classmethod
    async def start(cls, s: Stage) -> Direct:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.direct",
            s.telegram.api_url,
            s.telegram.file_url,
            s.chevereto.url,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=REPO,
        )
        return cls(process)

    async def once(self, file_id: str, name: str = "photo.png", mime: str = "image/png") -> Sample:
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        self._process.stdin.write(f"{file_id} {name} {mime}\n".encode())
        await self._process.stdin.drain()
        wall, cpu = (await asyncio.wait_for(self._process.stdout.readline(), 120)).split()
        return Sample(float(wall), float(cpu))

    async def close(self) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        await self._process.wait()


if __name__ == "__main__":
    asyncio.run(worker(*sys.argv[1:4]))
