"""The one rule for updates that could not be handled (``bot.platform.updates``), with plain
handlers."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.exc import OperationalError

from bot.ops.monitor import Monitor
from bot.platform.updates import HANDLER_TRIES, Outcome, UpdateRef, Updates
from bot.store import Store
from tests.support.metrics import dropped
from tests.support.running import FAST

LOGGER = "bot.platform.updates"
UPDATE = UpdateRef("message", "42")


def database_away() -> OperationalError:
    """What SQLAlchemy raises when the database refuses the connection."""
    return OperationalError("INSERT INTO jobs", {}, ConnectionRefusedError(111, "refused"))


class Handler:
    """A handler that raises each of ``failures`` in turn, then succeeds; counts its calls."""

    def __init__(self, *failures: Exception) -> None:
        self._failures = list(failures)
        self.calls = 0

    async def __call__(self) -> None:
        self.calls += 1
        if self._failures:
            raise self._failures.pop(0)


@pytest.fixture
def monitor(store: Store) -> Monitor:
    return Monitor(store)


def rule(monitor: Monitor, *, sends_again: bool = True) -> Updates:
    return Updates("chat", monitor, FAST, sends_again=sends_again)


def warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_a_handler_that_keeps_raising_is_dropped_after_three_tries(monitor, caplog):
    """The same error three times: three calls, DROPPED, one WARNING naming the update, counted."""
    handler = Handler(*(ValueError("x") for _ in range(5)))
    with caplog.at_level(logging.INFO, logger=LOGGER):
        assert await rule(monitor).handle(UPDATE, handler) is Outcome.DROPPED
    assert handler.calls == HANDLER_TRIES == 3
    (line,) = warnings(caplog)
    assert line.getMessage() == "chat: message 42 failed 3 times; skipped (ValueError)"
    assert line.exc_info is None
    assert dropped(monitor, "chat", "handler_error") == 1


async def test_a_handler_that_fails_once_is_handled_on_its_second_try(monitor, caplog):
    """One error, then success: HANDLED, nothing logged or counted."""
    handler = Handler(RuntimeError("once"))
    with caplog.at_level(logging.INFO, logger=LOGGER):
        assert await rule(monitor).handle(UPDATE, handler) is Outcome.HANDLED
    assert handler.calls == 2
    assert warnings(caplog) == []
    assert dropped(monitor, "chat", "handler_error") == 0


async def test_the_database_away_leaves_the_update_to_the_platform(monitor):
    """On a platform that sends it again: one call, AGAIN (not acknowledged), nothing counted."""
    handler = Handler(database_away())
    outcome = await rule(monitor).handle(UPDATE, handler)
    assert (outcome, outcome.acknowledged, handler.calls) == (Outcome.AGAIN, False, 1)
    assert dropped(monitor, "chat", "unstored") == 0


async def test_the_database_away_is_tried_again_in_place_where_nothing_comes_again(monitor):
    """On a platform that never sends it again, a database back after two pauses: HANDLED."""
    handler = Handler(database_away(), database_away())
    assert await rule(monitor, sends_again=False).handle(UPDATE, handler) is Outcome.HANDLED
    assert handler.calls == 3


async def test_the_database_away_for_too_long_is_unstored(monitor, caplog):
    """Away past the patience (1 s in FAST: pauses of 0.1, 0.2, 0.4 and 0.3 s): UNSTORED,
    acknowledged, counted once, each pause logged."""
    handler = Handler(*(database_away() for _ in range(20)))
    with caplog.at_level(logging.INFO, logger=LOGGER):
        outcome = await rule(monitor, sends_again=False).handle(UPDATE, handler)
    assert (outcome, outcome.acknowledged, handler.calls) == (Outcome.UNSTORED, True, 5)
    assert [r.getMessage().split("; ")[-1] for r in warnings(caplog)] == [
        "trying again in 0.1 s (OperationalError)",
        "trying again in 0.2 s (OperationalError)",
        "trying again in 0.4 s (OperationalError)",
        "trying again in 0.3 s (OperationalError)",
        "the poster is told (OperationalError)",
    ]
    assert dropped(monitor, "chat", "unstored") == 1


def test_an_unparsable_update_is_dropped_and_counted(monitor, caplog):
    """One WARNING with type and id, no traceback at INFO; counted as unparsable."""
    with caplog.at_level(logging.INFO, logger=LOGGER):
        assert rule(monitor).unparsable(UPDATE, KeyError("date")) is Outcome.DROPPED
    (line,) = warnings(caplog)
    assert line.getMessage() == "chat: message 42 cannot be parsed; skipped (KeyError)"
    assert line.exc_info is None
    assert dropped(monitor, "chat", "unparsable") == 1


def test_the_traceback_is_logged_at_debug_only(monitor, caplog):
    """At DEBUG the same one record carries the traceback."""
    error = KeyError("date")
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        rule(monitor).unparsable(UPDATE, error)
    (line,) = warnings(caplog)
    assert line.exc_info is not None
    assert line.exc_info[1] is error
