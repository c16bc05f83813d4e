"""CheveretoClient.probe against the fake host: the key-less call that says whether the API
answers, which the host watch makes while the host is down."""

from __future__ import annotations

import pytest

from bot.chevereto import CheveretoClient
from tests.support.fakes.chevereto import FakeChevereto


async def test_the_probe_finds_the_api(client: CheveretoClient, chevereto: FakeChevereto):
    """A working site answers the key-less call with code 100: the probe says it answers, and
    nothing was uploaded."""
    assert await client.probe()
    (probe,) = chevereto.site_checks
    assert "x-api-key" not in probe.headers
    assert chevereto.upload_requests == []


@pytest.mark.parametrize("outage", ["page", "cut"])
async def test_the_probe_fails_while_the_site_is_down(
    client: CheveretoClient, chevereto: FakeChevereto, outage
):
    """A maintenance page or a cut connection instead of the API: the probe says no."""
    chevereto.outage = outage
    assert not await client.probe()
    assert len(chevereto.site_checks) == 1


async def test_the_probe_fails_when_nothing_listens(unused_port: int):
    """No connection at all: the probe says no, and raises nothing."""
    async with CheveretoClient(f"http://127.0.0.1:{unused_port}", tries=1) as client:
        assert not await client.probe()


async def test_a_site_refusing_api_uploads_still_answers(
    client: CheveretoClient, chevereto: FakeChevereto
):
    """Code 401 ("Request denied") is the API's own word too: the host is up, and the uploads
    will hear that it refuses them."""
    chevereto.api_enabled = False
    assert await client.probe()
