"""The CSV a backfill hands its admin: one row per attachment seen, from old link to new.

UTF-8 with a byte-order mark, so that a spreadsheet reads it as UTF-8; a cell that begins with
``=``, ``+``, ``-`` or ``@`` is prefixed with ``'`` so that a spreadsheet shows it rather than
runs it; over ``ZIP_OVER`` bytes it goes zipped. Never a delete link: the rows hold none.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import AsyncIterable
from dataclasses import astuple, fields
from typing import Final

from bot.store.backfills import Row

COLUMNS: Final = tuple(f.name for f in fields(Row))
ZIP_OVER: Final = 8 * 1024 * 1024
FORMULA_STARTS: Final = ("=", "+", "-", "@")


def _cell(value: object) -> str:
    if value is None:
        return ""
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


async def csv_file(name: str, rows: AsyncIterable[Row]) -> tuple[str, bytes]:
    """The file's name and bytes: ``<name>.csv``, or ``<name>.zip`` holding it when large.
    Rows are encoded as they are written, so memory holds the file's bytes, not a text
    twice their size."""
    encoded = io.BytesIO()
    out = io.TextIOWrapper(encoded, encoding="utf-8-sig", newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    async for row in rows:
        writer.writerow([_cell(value) for value in astuple(row)])
    out.flush()
    data = encoded.getvalue()
    if len(data) <= ZIP_OVER:
        return f"{name}.csv", data
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{name}.csv", data)
    return f"{name}.zip", packed.getvalue()
