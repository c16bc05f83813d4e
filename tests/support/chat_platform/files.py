"""The fake service's files as FileRefs, and their download: the locator is the file's id.

The bytes are handed over chunk by chunk as they arrive, so memory does not grow with
the file, as the contract asks of every platform.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx

from bot.errors import MediaUnavailable, SourceUnavailable
from bot.payloads import FileRef

CHUNK = 256 * 1024


def files_of(message: dict[str, Any]) -> tuple[FileRef, ...]:
    """Every file of a message, as the service declares it (name, type, size)."""
    return tuple(
        FileRef(file["name"], file.get("type"), file.get("size"), file["id"])
        for file in message.get("files") or ()
    )


async def download(http: httpx.AsyncClient, ref: FileRef) -> AsyncIterator[bytes]:
    """A file the service no longer has never comes back; any other failure may pass."""
    try:
        async with http.stream("GET", f"/files/{ref.locator}") as response:
            if response.status_code == 404:
                raise MediaUnavailable(ref.filename)
            if response.status_code != 200:
                raise SourceUnavailable(f"the file download answered {response.status_code}")
            async for chunk in response.aiter_bytes(CHUNK):
                yield chunk
    except httpx.HTTPError:
        raise SourceUnavailable("the file download failed") from None
