"""The image as an admin runs it, checked from outside the container against the local fakes.

``docker run --network host`` with the fake Bot API and the fake Chevereto on 127.0.0.1: it runs
as uid 10001, keeps its database and secret in /data, answers /healthz and its own
HEALTHCHECK, uploads a photo and answers it, and stops with exit code 0 on ``docker stop``.
A failed start prints the same one line as ``python -m bot`` on this machine, with the same
exit code, on the image's Python (Debian 12's 3.11.2 in CI) and never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from pathlib import Path

import httpx
import pytest

from bot.chevereto.probe import probe_png
from tests.conftest import KEY
from tests.container.conftest import IMAGE_PYTHON, MEASURED
from tests.support.docker import (
    LABEL,
    UID,
    checked,
    docker,
    files,
    inspect,
    new_name,
    owners,
    process,
    run_args,
    until_healthy,
)
from tests.support.fakes.chevereto import FakeChevereto
from tests.support.fakes.telegram_api import TEST_TOKEN, FakeTelegram
from tests.support.process import run_bot

pytestmark = [pytest.mark.slow, pytest.mark.container]
ROOT = Path(__file__).resolve().parents[2]
SITE_PACKAGES = "/opt/venv/lib/python3.11/site-packages"
TOKEN = "7301234567:AAH-container-test-token-0123456789abcdef"
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (?P<level>[A-Z]+) (?P<text>.*)$")


async def test_the_image_is_configured_as_the_readme_says(image):
    """uid 10001, the /data volume, DATA_DIR and HEALTH_LISTEN, the HEALTHCHECK in Python,
    ``python -m bot``; and what it weighs."""
    found = await inspect("image", image)
    config = found["Config"]
    assert config["User"] == f"{UID}:{UID}"
    assert list(config["Volumes"]) == ["/data"]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["DATA_DIR"] == "/data"
    assert env["HEALTH_LISTEN"] == "0.0.0.0:9464"
    assert env["PATH"].startswith("/opt/venv/bin:")
    assert config["Entrypoint"] == ["python", "-m", "bot"]
    health = config["Healthcheck"]
    assert health["Test"] == ["CMD", "python", "-m", "bot.healthcheck"]
    assert (health["Interval"], health["Timeout"], health["StartPeriod"]) == (30e9, 5e9, 60e9)
    assert set(config["ExposedPorts"]) == {"8443/tcp", "9464/tcp"}
    MEASURED.append(f"image size: {found['Size'] / 1e6:.0f} MB ({image})")


INSIDE = """
import json, os, sys, time
started = time.perf_counter()
import bot.__main__, adapters.telegram.adapter, adapters.discord.adapter
imported = time.perf_counter() - started
import bot, adapters
strays = []
for top, dirs, files in os.walk("/"):
    if top in ("/proc", "/sys", "/dev"):
        dirs[:] = []
        continue
    for name in dirs + files:
        path = os.path.join(top, name)
        ours = name.startswith("chevereto_bot") or path.endswith(
            ("/bot/__main__.py", "/adapters/telegram/adapter.py")
        )
        if ours and (not path.startswith(sys.argv[1]) or name.endswith(".egg-info")):
            strays.append(path)
        if name in (".git", ".env", "fakes", "pyproject.toml") or path in (
            "/app", "/src", "/wheels", "/build"
        ):
            strays.append(path)
print(json.dumps({
    "bot": bot.__file__, "adapters": adapters.__file__, "python": sys.version.split()[0],
    "imported": imported, "strays": strays, "uid": os.getuid(),
}))
"""


async def test_only_the_installed_package_is_in_the_image(image):
    """``bot`` and ``adapters`` come from the venv's site-packages; no sources, build/,
    egg-info, wheels or tests anywhere; the Python is the expected one."""
    run = run_args(image, {}, "--rm", "--entrypoint", "python")
    found = json.loads(await checked(*run, "-c", INSIDE, SITE_PACKAGES))
    assert found["bot"] == f"{SITE_PACKAGES}/bot/__init__.py"
    assert found["adapters"] == f"{SITE_PACKAGES}/adapters/__init__.py"
    assert found["strays"] == []
    assert found["uid"] == UID
    if IMAGE_PYTHON:
        assert found["python"] == IMAGE_PYTHON
    MEASURED.append(
        f"Python {found['python']}; importing the bot and both adapters: {found['imported']:.2f} s"
    )


async def healthz(port: int, within: float = 15) -> str:
    """``/healthz`` from the host once it answers 200; what it said."""
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(trust_env=False, timeout=3) as client:
        while True:
            try:
                answer = await client.get(f"http://127.0.0.1:{port}/healthz")
                if answer.status_code == 200:
                    return answer.text
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"/healthz on port {port} never answered 200")
            await asyncio.sleep(0.2)


async def test_serves_from_a_bind_mounted_folder(image, tmp_path, chevereto, unused_port):
    """``docker run`` with a host folder owned by uid 10001 on /data: the bot runs as 10001,
    polls the fake Bot API, answers /healthz and its HEALTHCHECK, uploads a photo and answers
    it, keeps bot.sqlite3 and secret.key in the folder, and stops on ``docker stop`` with exit
    code 0 well within Docker's 10 s."""
    data = tmp_path / "data"
    data.mkdir()
    os.chown(data, UID, UID)
    name = new_name()
    async with FakeTelegram(token=TOKEN) as telegram:
        env = {
            "CHEVERETO_URL": chevereto.url,
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": telegram.api_url,
            "TELEGRAM_FILE_URL": telegram.file_url,
            "DEFAULT_API_KEY": KEY,
            "HEALTH_LISTEN": f"127.0.0.1:{unused_port}",
        }
        options = ["-d", "--name", name, "-v", f"{data}:/data", "--health-interval", "1s"]
        try:
            started = time.monotonic()
            await checked(*run_args(image, env, *options))
            detached = time.monotonic() - started
            await telegram.wait_for_call("getUpdates", timeout=60)
            polled = time.monotonic() - started
            MEASURED.append(
                f"docker run -> first getUpdates: {polled:.2f} s "
                f"(docker run -d returned after {detached:.2f} s)"
            )

            status, argv = process((await inspect("container", name))["State"]["Pid"])
            assert status["Uid"].split() == [str(UID)] * 4
            assert status["Gid"].split() == [str(UID)] * 4
            assert argv[:3] == ["python", "-m", "bot"]

            assert (await healthz(unused_port)).strip() == "ok"
            health = await until_healthy(name)
            assert health["Log"][-1]["ExitCode"] == 0

            alice = telegram.user(1001)
            ref = telegram.add_file(probe_png(), mime_type="image/png")
            telegram.push_update(
                telegram.message_update(telegram.private_chat(alice), alice, photo=ref)
            )
            answer = await telegram.wait_for(lambda m: "/delete/" in (m["text"] or ""), timeout=30)
            assert answer["chat_id"] == 1001
            assert chevereto.upload_requests[-1].headers["x-api-key"] == KEY

            stopping = time.monotonic()
            await checked("stop", "--time", "10", name, timeout=30)
            stopped = time.monotonic() - stopping
            state = (await inspect("container", name))["State"]
            logs = await docker("logs", name)
        finally:
            await docker("rm", "-f", "-v", name)
    MEASURED.append(f"docker stop -> exited: {stopped:.2f} s")
    assert (state["ExitCode"], state["OOMKilled"]) == (0, False)
    assert stopped < 10
    kept = owners(data)
    assert kept["bot.sqlite3"] == UID
    assert kept["secret.key"] == UID
    assert (data / "secret.key").stat().st_mode & 0o777 == 0o600
    assert logs.out == ""
    assert "Traceback" not in logs.err
    assert "stopped" in logs.err.splitlines()[-1]
    assert TOKEN.split(":")[1] not in logs.err
    assert KEY not in logs.err


async def test_a_folder_not_owned_by_10001_is_one_line(image, tmp_path):
    """A bind-mounted folder that uid 10001 cannot write stops the start with one line, as the
    README says."""
    data = tmp_path / "root-owned"
    data.mkdir(mode=0o755)
    env = {"CHEVERETO_URL": "http://127.0.0.1:9", "TELEGRAM_BOT_TOKEN": TEST_TOKEN}
    ran = await docker(*run_args(image, env, "--rm", "-v", f"{data}:/data"))
    assert ran.code == 1
    assert failure_lines(ran.err) == [
        "cannot start: cannot open the database (DATABASE_URL or DATA_DIR): PermissionError"
    ]
    assert list(data.iterdir()) == []


def failure_lines(stderr: str) -> list[str]:
    """What a failed start said: every line but the INFO and DEBUG log records (a record's
    lines after its first included), each record without its time, level and logger."""
    said: list[str] = []
    quiet = False
    for line in stderr.splitlines():
        logged = LOG_LINE.match(line)
        if logged is not None:
            quiet = logged["level"] in ("INFO", "DEBUG")
            if not quiet:
                said.append(logged["text"].partition(": ")[2])
        elif not quiet:
            said.append(line)
    return said


START_FAILURES = {
    "no token": ({}, 2),
    "a bad setting": ({"TELEGRAM_BOT_TOKEN": TEST_TOKEN, "MAX_UPLOAD_MB": "-5"}, 2),
    "an unreachable database host": (
        {
            "TELEGRAM_BOT_TOKEN": TEST_TOKEN,
            "DATABASE_URL": "postgresql+asyncpg://bot:hunter22@127.0.0.1:1/bot",
        },
        1,
    ),
    "a rejected token": ({"TELEGRAM_BOT_TOKEN": "999:wrong-token-value"}, 2),
}


@pytest.mark.parametrize("case", list(START_FAILURES))
async def test_a_failed_start_is_one_line(image, tmp_path, unused_port, case):
    """No token, a bad setting, an unreachable database host, a token Telegram rejects: the
    container exits with the code the process tests expect and says what ``python -m bot``
    on this machine says, in one line, without a traceback or a BaseExceptionGroup (the
    ``except*`` blocks of bot/__main__.py, on the image's Python 3.11.2)."""
    extra, code = START_FAILURES[case]
    async with FakeChevereto() as chevereto, FakeTelegram() as telegram:
        env = {
            "CHEVERETO_URL": chevereto.url,
            "TELEGRAM_API_URL": telegram.api_url,
            "TELEGRAM_FILE_URL": telegram.file_url,
            **extra,
        }
        ran = await docker(
            *run_args(image, {**env, "HEALTH_LISTEN": f"127.0.0.1:{unused_port}"}, "--rm")
        )
        host_code, host_err = await run_bot({**env, "DATA_DIR": str(tmp_path / "data")}, tmp_path)
    said = failure_lines(ran.err)
    assert (ran.code, host_code) == (code, code)
    assert len(said) == 1
    assert said == failure_lines(host_err)
    assert ran.out == ""
    for word in ("Traceback", "BaseExceptionGroup", "hunter22", "wrong-token-value"):
        assert word not in ran.err


SENT = ["pyproject.toml", "README.md", "bot/__init__.py", "adapters/telegram/adapter.py"]
KEPT_OUT = [
    ".git/HEAD",
    ".env",
    "data/bot.sqlite3",
    "data/secret.key",
    "tests/test_x.py",
    ".venv/bin/python",
    "build/lib/bot/__init__.py",
    "chevereto_bot.egg-info/PKG-INFO",
    "bot/__pycache__/__init__.cpython-311.pyc",
    "adapters/telegram/__pycache__/adapter.cpython-311.pyc",
    ".mypy_cache/3.11/bot.json",
    "bench/bench_x.py",
]


async def test_the_build_context_is_what_the_dockerfile_copies(image, tmp_path):
    """Through Docker's own reading of .dockerignore, a folder holding a git repository, a
    .env, data/, tests, a venv, build output and caches sends only what the Dockerfile
    copies."""
    del image  # needs Docker, as the image does
    context = tmp_path / "context"
    for name in SENT + KEPT_OUT:
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        (context / name).write_text("x")
    (context / ".dockerignore").write_bytes((ROOT / ".dockerignore").read_bytes())
    (context / "Dockerfile").write_text("FROM scratch\nCOPY . /context/\n")
    tag = f"{new_name()}:context"
    name = new_name()
    try:
        await checked("build", "--network", "host", "--quiet", "--tag", tag, str(context))
        await checked("create", "--name", name, "--label", LABEL, tag, "/none")
        await checked("cp", f"{name}:/context", str(tmp_path / "sent"))
    finally:
        await docker("rm", "-f", name)
        await docker("rmi", "-f", tag)
    sent = sorted(files(tmp_path / "sent"))
    assert sent == sorted(SENT)
