"""The suite's leak scan: once every test has run, no key, token or delete-link hash that the
fakes issued or were given may be found in any log or any file the tests left.

Every process of the run logs as ``python -m bot`` does (``bot.ops.logs.setup_logging`` at DEBUG,
the platforms' SDKs at INFO, the masking filter on) into a file of the scan folder; every
``python -m bot`` a test starts logs at DEBUG too and its stderr lands there as well. The fakes
name each secret as they issue or receive it (``issued``). At the end of the session the
controlling process reads every log, and every file under pytest's temporary folder (each
test's DATA_DIR, database and spool among them), and fails the run when one holds a secret,
naming the file and the kind of secret, never the secret.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.ops.logs import setup_logging

FOLDER_VARIABLE = "CHEVERETO_BOT_TEST_LEAKS"
"""The scan folder, made by the controlling process; xdist workers and bots inherit it."""
SDK_LOGGERS = ("telegram", "discord")
TEST_RECORDS = frozenset({".env", "replies.jsonl"})
"""Files a test writes on purpose: a bot's configuration (it holds tokens by design), and a
test worker's record of the replies it sent the uploader (a delete link goes to them)."""
SHORTEST = 8
"""Shorter test values ("tok") are words that turn up anywhere; every real secret is longer."""
_issued: dict[str, str] = {}


def issued(kind: str, value: str) -> str:
    """Notes a secret a fake handed out or was given (``kind``: key, token, delete hash), and
    returns it. Outside a test run (a benchmark uses the fakes too) nothing is kept."""
    if FOLDER_VARIABLE in os.environ and len(value) >= SHORTEST and value not in _issued:
        _issued[value] = kind
        with (_folder() / f"issued-{os.getpid()}.txt").open("a", encoding="utf-8") as out:
            out.write(f"{kind}\t{value}\n")
    return value


def process_log(text: str) -> None:
    """Keeps what a ``python -m bot`` wrote on stderr, for the scan."""
    if FOLDER_VARIABLE in os.environ:
        (_folder() / f"process-{uuid.uuid4().hex}.log").write_text(text, encoding="utf-8")


def _folder() -> Path:
    return Path(os.environ[FOLDER_VARIABLE])


def configure(config: pytest.Config) -> None:
    """Called by every process of the run: the controller makes the folder; each logs there."""
    if FOLDER_VARIABLE not in os.environ:
        os.environ[FOLDER_VARIABLE] = tempfile.mkdtemp(prefix="chevereto-bot-leaks-")
    stream = (_folder() / f"tests-{os.getpid()}.log").open("a", encoding="utf-8")
    config.add_cleanup(stream.close)
    setup_logging("DEBUG", "text", [], SDK_LOGGERS, stream=stream)


def _secrets() -> dict[str, str]:
    found: dict[str, str] = {}
    for listing in _folder().glob("issued-*.txt"):
        for line in listing.read_text(encoding="utf-8").splitlines():
            kind, _, value = line.partition("\t")
            found[value] = kind
    return found


def _scanned(roots: list[Path]) -> Iterator[Path]:
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and not path.is_symlink() and path.name not in TEST_RECORDS:
                yield path


def _trie(words: list[bytes]) -> bytes:
    """One pattern matching any of ``words``, shaped as their trie: the engine follows one
    branch per position, so thousands of secrets cost about as much as one."""
    heads: dict[int, list[bytes]] = {}
    for word in words:
        if word:
            heads.setdefault(word[0], []).append(word[1:])
    branches = [re.escape(bytes([head])) + _trie(tails) for head, tails in heads.items()]
    if not branches:
        return b""
    pattern = b"(?:" + b"|".join(branches) + b")"
    return pattern + b"?" if b"" in words else pattern


def leaks(temporary: Path) -> list[str]:
    """Each file (a log, or a file under ``temporary``) holding a secret, with the kind found."""
    secrets = {value.encode(): kind for value, kind in _secrets().items()}
    if not secrets:
        return []
    pattern = re.compile(_trie(sorted(secrets)))
    found = []
    for path in _scanned([_folder(), temporary]):
        if path.name.startswith("issued-"):
            continue
        kinds = {secrets[m.group()] for m in pattern.finditer(path.read_bytes())}
        if kinds:
            found.append(f"{path}: {', '.join(sorted(kinds))}")
    return found


def finish(session: pytest.Session) -> None:
    """In the controlling process only, once every worker has ended: the scan."""
    if hasattr(session.config, "workerinput"):
        return
    temporary = session.config._tmp_path_factory.getbasetemp()
    found = leaks(temporary)
    logging.getLogger(__name__).info("leak scan: %d secrets, %d files", len(_secrets()), len(found))
    if not found:
        shutil.rmtree(_folder(), ignore_errors=True)
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_sep(
            "=", "secrets found in logs or files (the scan folder is kept)", red=True
        )
        for line in found:
            reporter.write_line(line)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
