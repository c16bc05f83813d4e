"""The log filter: every form of a delete link, a key or a token is masked in every line, the
libraries' own dumps and tracebacks included, at every level."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.ops.logs import setup_logging

HASH = "Zq9xY2AbCdEf0123"
SITE = "https://img.example.com"
KEY = "chv_7_" + "s" * 128
TOKEN = "7301234570:AAH-log-telegram-token-0123456789abcdef"
DELETE_FORMS = [
    f"{SITE}/image/Ab1/delete/{HASH}",
    f"{SITE}/video/Ab2/delete/{HASH}",
    f"{SITE}/clip/Ab3/delete/{HASH}",
    f"{SITE}/a/b/c/delete/{HASH}",
    json.dumps({"delete_url": f"{SITE}/video/Ab2/delete/{HASH}"}).replace("/", "\\/"),
    f"{SITE}%2Fvideo%2FAb2%2Fdelete%2F{HASH}",
]


@pytest.fixture
def log() -> Iterator[io.StringIO]:
    """What the bot's own logging set-up writes at DEBUG, as ``python -m bot`` makes it."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stream = io.StringIO()
    setup_logging("DEBUG", "text", [TOKEN], sdk_loggers=("telegram",), stream=stream)
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize("form", DELETE_FORMS)
def test_every_delete_link_form_loses_its_hash(log, form):
    """A delete link, plain, JSON-escaped or URL-encoded, for any kind of upload, shows no hash."""
    logging.getLogger("bot.test").debug("answer: %s", form)
    line = log.getvalue()
    assert "answer:" in line
    assert "delete" in line
    assert HASH not in line


def test_a_library_dump_of_a_raw_update_is_masked(log):
    """A library logging a raw update with ``%r`` (its repr doubles the host's escaped slashes)
    shows neither the hash nor the key."""
    raw = [{"update_id": 9, "message": {"text": f"{SITE}\\/video\\/Ab2\\/delete\\/{HASH} {KEY}"}}]
    logging.getLogger("telegram.ext.ExtBot").critical("Received data was %r", raw)
    line = log.getvalue()
    assert "Received data was" in line
    assert "delete\\\\/***" in line
    assert HASH not in line
    assert KEY not in line


def test_a_traceback_is_masked(log):
    """An exception's text, in the traceback of a log line, shows no delete-link hash nor token."""
    try:
        raise ValueError(f"could not fetch {SITE}/image/Ab1/delete/{HASH} with {TOKEN}")
    except ValueError:
        logging.getLogger("bot.test").warning("failed", exc_info=True)
    text = log.getvalue()
    assert "ValueError: could not fetch" in text
    assert "/image/Ab1/delete/***" in text
    assert HASH not in text
    assert TOKEN not in text


def test_the_json_format_is_masked():
    """LOG_FORMAT=json masks the same."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stream = io.StringIO()
    try:
        setup_logging("INFO", "json", [], stream=stream)
        logging.getLogger("bot.test").info("link %s", DELETE_FORMS[1])
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    entry = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert entry["message"] == f"link {SITE}/video/Ab2/delete/***"


def test_a_plain_mention_of_deleting_is_kept(log):
    """Words that merely hold "delete" are not masked: only a link's hash is."""
    logging.getLogger("bot.test").info("deleteMessage answered; /delete/ is a path")
    assert "deleteMessage answered; /delete/ is a path" in log.getvalue()
