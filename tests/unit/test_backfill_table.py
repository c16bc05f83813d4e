"""The backfill's CSV: a BOM, the columns, formula cells quoted, no empty links written as
"None", and zipped past 8 MB."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime

from bot.backfill import table
from bot.backfill.table import COLUMNS, csv_file
from bot.store.backfills import Row

WHEN = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def row(filename: str = "cat.png", outcome: str = "uploaded", **links: str) -> Row:
    return Row(
        "https://discord.com/channels/1/2/3",
        WHEN,
        "4",
        filename,
        "https://cdn.discordapp.com/attachments/2/4/cat.png",
        outcome,
        links.get("viewer"),
        links.get("file"),
        links.get("thumb"),
    )


async def rows(items: Iterable[Row]) -> AsyncIterator[Row]:
    for item in items:
        yield item


def read(data: bytes) -> list[list[str]]:
    text = data.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


async def test_a_bom_the_columns_and_one_row_per_attachment() -> None:
    name, data = await csv_file("backfill-2-1", rows([row(viewer="http://h/image/a"), row()]))
    assert name == "backfill-2-1.csv"
    header, first, second = read(data)
    assert header == list(COLUMNS)
    assert header[-4:] == ["outcome", "viewer_url", "file_url", "thumbnail_url"]
    assert first[1] == "2024-03-01T12:00:00+00:00"
    assert first[6] == "http://h/image/a"
    assert second[6:] == ["", "", ""]
    assert data.count(b"\r\n") == 3


async def test_cells_a_spreadsheet_would_run_are_quoted() -> None:
    """=, +, - and @ at a cell's start get a leading apostrophe; the same inside a cell, or
    a Chinese name, are kept as they are."""
    names = ["=HYPERLINK(1).png", "+1.png", "-rm.png", "@me.png", "a=b.png", "猫.png"]
    _, data = await csv_file("x", rows(row(n) for n in names))
    written = [line[3] for line in read(data)[1:]]
    assert written == ["'=HYPERLINK(1).png", "'+1.png", "'-rm.png", "'@me.png", "a=b.png", "猫.png"]


async def test_a_large_csv_goes_zipped(monkeypatch) -> None:
    """Past the limit the file is a zip that holds the same CSV."""
    monkeypatch.setattr(table, "ZIP_OVER", 1000)
    many = [row(f"p{n}.png") for n in range(50)]
    name, data = await csv_file("big", rows(many))
    assert name == "big.zip"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        (inside,) = archive.namelist()
        assert inside == "big.csv"
        assert len(read(archive.read(inside))) == 51


async def test_the_real_limit_is_8_mb() -> None:
    assert table.ZIP_OVER == 8 * 1024 * 1024
