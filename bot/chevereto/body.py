"""Reading the body of a host's answer, at most MAX_HOST_ANSWER_KB of it.

The API's answers are a few KB of JSON. Anything much larger is not the API (a proxy's
page, a misconfigured site streaming a file), and read whole it would hold the process's
memory hostage: the body is streamed, and reading stops at the limit.
"""

from __future__ import annotations

from typing import Final

import httpx

KB: Final = 1024
DEFAULT_LIMIT_KB: Final = 1024
"""MAX_HOST_ANSWER_KB's default."""


async def read_capped(response: httpx.Response, limit: int) -> bytes | None:
    """The body of a streamed ``response`` (decoded, as it will be parsed), or None when it is
    over ``limit`` bytes: declared so, or found so while reading, which then stops. The caller
    closes the response, and with it a connection left mid-body."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)
