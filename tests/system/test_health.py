"""/healthz and /metrics from outside: ``python -m bot`` with HEALTH_LISTEN, and the health
endpoint while PostgreSQL itself is stopped and started again."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.ops.health import HealthServer
from tests.conftest import SECRET
from tests.support.chat_platform.settings import ChatSettings
from tests.support.fakes.chat_api import FakeChat
from tests.support.plugin import ROOT, plugin_pythonpath
from tests.support.process import CLEAN_ENV, BotProcess, run_bot
from tests.support.running import FAST, running
from tests.support.settings import core_settings
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")
PG_CTL = os.environ.get("TEST_POSTGRES_CTL")


@pytest.fixture
async def chat() -> AsyncIterator[FakeChat]:
    async with FakeChat() as fake:
        yield fake


@pytest.fixture
def env(tmp_path, chat, chevereto, unused_port) -> dict[str, str]:
    """A bot on the test platform (a plug-in) with HEALTH_LISTEN on a free port."""
    return {
        "PYTHONPATH": plugin_pythonpath(tmp_path / "plugins"),
        "TESTCHAT_URL": chat.url,
        "CHEVERETO_URL": chevereto.url,
        "DATA_DIR": str(tmp_path / "data"),
        "SECRET_KEY": SECRET,
        "HEALTH_LISTEN": f"127.0.0.1:{unused_port}",
    }


async def status(url: str) -> tuple[int, str]:
    """The status and text of a GET, or (0, why) when nothing answers."""
    async with httpx.AsyncClient(timeout=5) as http:
        try:
            response = await http.get(url)
        except httpx.TransportError as error:
            return 0, type(error).__name__
    return response.status_code, response.text


def answers(url: str, expected: tuple[int, str]) -> Callable[[], Awaitable[bool]]:
    """A check for ``eventually``: whether a GET of ``url`` answers ``expected``."""

    async def check() -> bool:
        return await status(url) == expected

    return check


def image_healthcheck() -> list[str]:
    """The Dockerfile's HEALTHCHECK command, with this interpreter for the image's ``python``."""
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    found = re.search(r"^HEALTHCHECK .*?CMD (\[.*?\])$", dockerfile, re.MULTILINE | re.DOTALL)
    assert found is not None, "the Dockerfile has no HEALTHCHECK ... CMD [...]"
    assert "HEALTH_LISTEN=0.0.0.0:9464" in dockerfile
    program, *arguments = json.loads(found.group(1))
    assert program == "python"
    return [sys.executable, *arguments]


async def run_healthcheck(port: int, cwd: Path) -> tuple[int, str]:
    """Runs the image's HEALTHCHECK as Docker would, with HEALTH_LISTEN on ``port``."""
    env = {**CLEAN_ENV, "HEALTH_LISTEN": f"0.0.0.0:{port}"}
    process = await asyncio.create_subprocess_exec(
        *image_healthcheck(),
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return process.returncode, out.decode().strip()


async def test_python_m_bot_serves_healthz_and_metrics(env, tmp_path, chat, unused_port):
    """With HEALTH_LISTEN set, the process serves /healthz (200 ``ok`` once the platform is
    connected) and /metrics from outside, and the image's HEALTHCHECK passes; no request is
    logged; SIGTERM stops it with 0, and the HEALTHCHECK fails then, saying why."""
    base = f"http://127.0.0.1:{unused_port}"
    async with BotProcess(env, tmp_path) as bot:
        await bot.line(lambda line: "serving /healthz and /metrics" in line)
        alice = chat.user("1001")
        chat.post(alice, chat.private(alice), "/help")  # ends the first long poll
        await eventually(answers(f"{base}/healthz", (200, "ok")), within=20)
        code, metrics = await status(f"{base}/metrics")
        healthy = await run_healthcheck(unused_port, tmp_path)
        assert await bot.stop() == 0
    assert code == 200
    names = {family.name for family in text_string_to_metric_families(metrics)}
    assert {"chevereto_bot_jobs_waiting", "chevereto_bot_upload_seconds"} <= names
    assert healthy == (0, "ok")
    assert "/healthz" not in bot.stderr.replace("serving /healthz and /metrics", "")
    assert (await status(f"{base}/healthz"))[0] == 0
    code, said = await run_healthcheck(unused_port, tmp_path)
    assert code == 1
    assert "Connection refused" in said


async def test_a_taken_health_port_stops_the_start(env, tmp_path):
    """HEALTH_LISTEN on a port already in use: exit 1 with one line naming HEALTH_LISTEN."""
    taken = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = taken.sockets[0].getsockname()[1]
    try:
        code, stderr = await run_bot({**env, "HEALTH_LISTEN": f"127.0.0.1:{port}"}, tmp_path)
    finally:
        taken.close()
    assert code == 1
    assert f"HEALTH_LISTEN=127.0.0.1:{port}: cannot listen there" in stderr


# --- PostgreSQL stopped and started again ---------------------------------------------------


async def _admin() -> asyncpg.Connection:
    assert POSTGRES_URL is not None
    return await asyncpg.connect(POSTGRES_URL.replace("+asyncpg", ""))


async def _pg_ctl(*args: str) -> None:
    assert PG_CTL is not None
    process = await asyncio.create_subprocess_exec(
        PG_CTL, *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()


async def _start_options() -> str:
    """The options the server was started with (its ``postmaster.opts`` without the binary
    and ``-D``), so that ``pg_ctl start`` brings it back on the same address and port."""
    admin = await _admin()
    try:
        data = await admin.fetchval("SHOW data_directory")
    finally:
        await admin.close()
    opts = await asyncio.to_thread(Path(data, "postmaster.opts").read_text)
    words = shlex.split(opts)[1:]
    if "-D" in words:
        del words[words.index("-D") : words.index("-D") + 2]
    return shlex.join(words)


async def _accepting() -> bool:
    try:
        await (await _admin()).close()
    except (OSError, asyncpg.PostgresError):
        return False
    return True


@pytest.fixture
async def pg_database() -> AsyncIterator[str]:
    """A database of its own, dropped afterwards over a new connection."""
    name = f"test_health_{uuid.uuid4().hex[:12]}"
    admin = await _admin()
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"  # type: ignore[union-attr]
    finally:
        await eventually(_accepting, within=30)
        admin = await _admin()
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


@pytest.mark.postgres_only
async def test_healthz_follows_postgresql_stopped_and_started(
    chat, chevereto, tmp_path, pg_database
):
    """PostgreSQL stopped: 503 ``database unavailable`` (the platform is still connected);
    started again: 200 ``ok``. Stops the shared test server for a few seconds."""
    settings = core_settings(chevereto, tmp_path / "data", pg_database)
    platform = ChatSettings(_env_file=None, url=chat.url)  # type: ignore[call-arg]
    options = await _start_options()
    async with running(settings, platform, tuning=FAST) as core:
        alice = chat.user("1001")
        chat.post(alice, chat.private(alice), "/help")
        async with HealthServer(core, "127.0.0.1:0") as server:
            url = f"http://127.0.0.1:{server.port}/healthz"
            await eventually(answers(url, (200, "ok")))
            await _pg_ctl("stop", "-m", "fast")
            try:
                assert await status(url) == (503, "database unavailable")
            finally:
                await _pg_ctl("start", "-o", options)
            await eventually(answers(url, (200, "ok")), within=30)
