"""A fault a test causes in a SQLite database from outside the bot: a table gone."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path


async def rename_table(path: Path, old: str, new: str) -> None:
    """A real fault from outside the bot; a busy database is waited for, within a minute."""

    def rename() -> None:
        with contextlib.closing(sqlite3.connect(path, timeout=5)) as db:
            db.execute(f"ALTER TABLE {old} RENAME TO {new}")
            db.commit()

    async with asyncio.timeout(60):
        while True:
            try:
                await asyncio.to_thread(rename)
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error):
                    raise
            await asyncio.sleep(0.2)
