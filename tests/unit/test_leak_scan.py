"""The suite's leak scan finds a secret a fake issued wherever it was written, and names the
file and the kind of secret, never the secret."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tests.support import leaks

HASH = "0f" * 24


def test_a_secret_in_a_log_or_a_data_file_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    """A delete hash in a log line and a key in a database file are both reported; a .env
    file holding a token, and a short test value, are not."""
    with tempfile.TemporaryDirectory() as folder, tempfile.TemporaryDirectory() as temporary:
        monkeypatch.setenv(leaks.FOLDER_VARIABLE, folder)
        key = "chv_9_" + "z" * 128
        token = "7300000001:AAH-scan-test-token-0123456789abcdef"
        for kind, value in (("delete hash", HASH), ("key", key), ("token", token), ("key", "k1")):
            leaks.issued(kind, value)
        (Path(folder) / "tests-1.log").write_text(f"GET /image/ab/delete/{HASH}\n")
        data = Path(temporary) / "test_x0" / "data"
        data.mkdir(parents=True)
        (data / "bot.sqlite3").write_bytes(b"\x00SQLite" + key.encode() + b"\x00k1")
        (data.parent / ".env").write_text(f"TELEGRAM_BOT_TOKEN={token}\n")
        found = leaks.leaks(Path(temporary))
    assert sorted(found) == sorted(
        [f"{folder}/tests-1.log: delete hash", f"{data}/bot.sqlite3: key"]
    )
    assert not any(HASH in line or key in line for line in found)
