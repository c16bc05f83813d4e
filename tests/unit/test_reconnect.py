"""The one reconnect policy of every adapter, the network problem it names, and the exit codes
``python -m bot`` computes from what stopped it."""

from __future__ import annotations

import logging
import socket
import ssl

import httpx
import pytest

import bot.__main__ as main
from bot.errors import StartupFailed, TokenRejected
from bot.ops.network import network_problem
from bot.platform.reconnect import Backoff, Reconnect
from tests.support.settings import core_settings

LOGGER = "bot.platform.reconnect"


def test_waits_double_up_to_the_most() -> None:
    """1, 2, 4 ... seconds, never more than ``most_s``."""
    backoff = Backoff(first_s=1.0, most_s=30.0)
    assert [backoff.delay(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


def caused(outer: Exception, inner: BaseException) -> Exception:
    outer.__cause__ = inner
    return outer


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (caused(RuntimeError("wrapped"), socket.gaierror(-2, "Name unknown")), "DNS lookup failed"),
        (caused(OSError("all failed"), ConnectionRefusedError(111, "x")), "connection refused"),
        (caused(RuntimeError("x"), ssl.SSLError("WRONG_VERSION_NUMBER")), "TLS error"),
        (httpx.ReadTimeout("slow"), "timed out"),
        (TimeoutError(), "timed out"),
        (ConnectionResetError(), "connection reset"),
        (RuntimeError("something else"), "RuntimeError"),
    ],
)
def test_the_problem_is_named_from_the_root_cause(error: BaseException, words: str) -> None:
    """The socket-level cause names the problem, however many libraries wrapped it."""
    assert network_problem(error) == words


async def test_transient_errors_are_tried_again_one_line_each(caplog) -> None:
    """Two refused connections, then success: two WARNING lines, each naming try and cause."""
    outcomes: list[Exception | None] = [ConnectionRefusedError(), ConnectionRefusedError(), None]

    async def attempt() -> str:
        outcome = outcomes.pop(0)
        if outcome is not None:
            raise outcome
        return "connected"

    reconnect = Reconnect("chat", Backoff(first_s=0.01), lambda e: isinstance(e, OSError))
    with caplog.at_level(logging.INFO, logger=LOGGER):
        assert await reconnect.until_done(attempt) == "connected"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "chat: connecting failed (connection refused), try 1; trying again in 0.01 s",
        "chat: connecting failed (connection refused), try 2; trying again in 0.02 s",
    ]
    assert reconnect.failures == 0
    assert "connected after 2 failed tries" in caplog.text


async def test_other_errors_are_raised_at_once() -> None:
    """What the adapter does not call transient (a refused token) is not tried again."""
    tries = 0

    async def attempt() -> None:
        nonlocal tries
        tries += 1
        raise TokenRejected("Chat", "CHAT_TOKEN")

    reconnect = Reconnect("chat", Backoff(first_s=0.01), lambda e: isinstance(e, OSError))
    with pytest.raises(TokenRejected):
        await reconnect.until_done(attempt)
    assert tries == 1


def test_a_rejected_token_names_its_variable_and_exits_2() -> None:
    error = TokenRejected("Telegram", "TELEGRAM_BOT_TOKEN")
    assert isinstance(error, StartupFailed)
    assert error.exit_code == 2
    assert str(error) == "Telegram refused TELEGRAM_BOT_TOKEN: check the token"


@pytest.mark.parametrize(
    ("raised", "code"),
    [
        (ExceptionGroup("run", [TokenRejected("Discord", "DISCORD_BOT_TOKEN")]), 2),
        (StartupFailed("cannot open the database"), 1),
        (ExceptionGroup("outer", [ExceptionGroup("inner", [TokenRejected("T", "T_TOKEN")])]), 2),
        (ExceptionGroup("run", [StartupFailed("db"), TokenRejected("T", "T_TOKEN")]), 2),
        (ExceptionGroup("run", [RuntimeError("boom")]), 1),
    ],
)
def test_the_exit_code_is_computed_not_raised_in_except_star(
    raised: BaseException, code: int, tmp_path, monkeypatch, caplog
) -> None:
    """``_run`` returns the code (``main`` exits after the ``except*`` blocks: Python 3.11.2
    prints a BaseExceptionGroup traceback for a ``sys.exit`` inside one), one line a failure."""

    async def serve(*_: object) -> None:
        raise raised

    monkeypatch.setattr(main, "serve", serve)
    with caplog.at_level(logging.INFO, logger="bot"):
        assert main._run(core_settings("http://127.0.0.1:9", tmp_path), []) == code
    assert all(r.levelno == logging.CRITICAL for r in caplog.records)
    assert "Traceback" not in caplog.text
