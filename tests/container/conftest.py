"""The Docker image, checked from outside the container: ``CHEVERETO_BOT_IMAGE`` names it.

``.ci/docker`` builds it offline and sets it. Without it (a developer's loop) the tests marked
``container`` are left out, not skipped; under CI a missing image stops the run, as a missing
PostgreSQL does (tests/conftest.py). ``CHEVERETO_BOT_IMAGE_PYTHON``, when set, is the Python
version the image must have (CI: 3.11.2, Debian 12's own).

What the tests measured (size, start-up) is printed at the end of the run.
"""

from __future__ import annotations

import os

import pytest

IMAGE = os.environ.get("CHEVERETO_BOT_IMAGE")
IMAGE_PYTHON = os.environ.get("CHEVERETO_BOT_IMAGE_PYTHON")
MEASURED: list[str] = []
"""Lines for the end of the run: what the image weighs, how long it takes to start."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if IMAGE:
        return
    wanted = [item for item in items if item.get_closest_marker("container") is not None]
    if not wanted:
        return
    if os.environ.get("CI"):
        raise pytest.UsageError(
            "CI must run the container tests: CHEVERETO_BOT_IMAGE is unset (.ci/docker sets it)"
        )
    config.hook.pytest_deselected(items=wanted)
    items[:] = [item for item in items if item.get_closest_marker("container") is None]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if MEASURED:
        terminalreporter.section("the image, measured")
        for line in MEASURED:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def image() -> str:
    """The image under test."""
    assert IMAGE is not None
    return IMAGE
