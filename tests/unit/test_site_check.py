"""The start-up check of CHEVERETO_URL: one key-less upload call, one INFO or WARNING line."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from bot.chevereto.check import check_site, report_site
from tests.support.fakes.chevereto import PHP_WARNING, UPLOAD_PATH, FakeChevereto

LOGGER = "bot.chevereto.check"
MB = 1024 * 1024
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@contextlib.asynccontextmanager
async def site(handler: Handler) -> AsyncIterator[str]:
    """A web server on 127.0.0.1 answering every request with ``handler``; yields its URL."""
    app = web.Application()
    app.router.add_route("*", "/{path:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def a_blog(_: web.Request) -> web.StreamResponse:
    page = "<!DOCTYPE html><html><body><h1>My blog</h1></body></html>"
    return web.Response(text=page, content_type="text/html")


async def to_https(_: web.Request) -> web.StreamResponse:
    return web.Response(status=301, headers={"Location": "https://chevereto.example" + UPLOAD_PATH})


def lines(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == LOGGER]


async def test_a_chevereto_site_is_one_info_line(chevereto: FakeChevereto, caplog) -> None:
    """The fake Chevereto answers code 100 to the key-less call: one INFO line, and no key sent."""
    with caplog.at_level(logging.INFO, logger=LOGGER):
        result = await report_site(chevereto.url)
    assert result.ok
    ((level, line),) = lines(caplog)
    assert level == logging.INFO
    assert "Chevereto API v1" in line
    assert chevereto.url + UPLOAD_PATH in line
    (request,) = chevereto.requests
    assert chevereto.site_checks == [request]
    assert (request.method, request.path, request.query) == ("POST", UPLOAD_PATH, "")
    assert "x-api-key" not in request.headers
    assert "key" not in request.form


async def test_an_html_page_is_one_warning_line(caplog) -> None:
    """A site that is not Chevereto answers an HTML page: one WARNING line that says so."""
    async with site(a_blog) as url:
        with caplog.at_level(logging.INFO, logger=LOGGER):
            result = await report_site(url)
    assert not result.ok
    ((level, line),) = lines(caplog)
    assert level == logging.WARNING
    assert "an HTML page (HTTP 200)" in line
    assert "CHEVERETO_URL" in line


async def test_an_html_error_page_is_named() -> None:
    """An HTML 500 page (a broken PHP site) is an HTML page too, with its status."""

    async def broken(_: web.Request) -> web.StreamResponse:
        page = "<!DOCTYPE html><html><body><h1>500 Internal Server Error</h1></body></html>"
        return web.Response(status=500, text=page, content_type="text/html")

    async with site(broken) as url:
        result = await check_site(url)
    assert not result.ok
    assert "an HTML page (HTTP 500)" in result.line


async def test_a_redirect_names_where_it_goes(caplog) -> None:
    """An http site that redirects to https: the WARNING names the target and the fix."""
    async with site(to_https) as url:
        with caplog.at_level(logging.INFO, logger=LOGGER):
            await report_site(url)
    ((level, line),) = lines(caplog)
    assert level == logging.WARNING
    assert "redirect (HTTP 301) to https://chevereto.example/api/1/upload" in line
    assert "set CHEVERETO_URL=https://chevereto.example" in line


async def test_a_refused_port_is_named(unused_port: int, caplog) -> None:
    """Nothing listens on the port: one WARNING line saying "connection refused"."""
    with caplog.at_level(logging.INFO, logger=LOGGER):
        await report_site(f"http://127.0.0.1:{unused_port}")
    ((level, line),) = lines(caplog)
    assert level == logging.WARNING
    assert "connection refused" in line


async def test_a_tls_error_is_named(chevereto: FakeChevereto) -> None:
    """https:// to a server that speaks plain HTTP fails the TLS handshake: named as such."""
    result = await check_site(chevereto.url.replace("http://", "https://"))
    assert not result.ok
    assert "TLS error" in result.line


async def test_a_name_that_does_not_resolve_is_named() -> None:
    """A host name with no DNS entry (.invalid never has one) is a DNS failure."""
    result = await check_site("http://chevereto.invalid", wait_s=5)
    assert "DNS lookup failed" in result.line


async def test_a_hanging_site_is_cut_short(chevereto: FakeChevereto) -> None:
    """A site that never answers is named as timed out once the check's wait is over."""
    chevereto.delay = 30
    started = time.monotonic()
    result = await check_site(chevereto.url, wait_s=0.3)
    assert time.monotonic() - started < 3
    assert "timed out" in result.line


async def test_a_site_refusing_api_uploads_is_named(chevereto: FakeChevereto) -> None:
    """JSON code 401 (API uploads off in the dashboard) is a WARNING naming that setting."""
    chevereto.api_enabled = False
    result = await check_site(chevereto.url)
    assert not result.ok
    assert "refuses API uploads" in result.line


async def test_raw_host_text_and_credentials_stay_out() -> None:
    """A raw PHP error is not repeated, and a password in CHEVERETO_URL is not shown."""

    async def php_warning(_: web.Request) -> web.StreamResponse:
        return web.json_response({"error": {"code": 0, "message": PHP_WARNING}}, status=400)

    async with site(php_warning) as url:
        result = await check_site(url.replace("http://", "http://admin:hunter22@"))
    assert not result.ok
    assert "hunter22" not in result.line
    assert "imagecreatefromstring" not in result.line


async def test_an_answer_over_the_limit_is_named_before_it_is_all_sent() -> None:
    """A site answering 5 MB of JSON (no length declared): the check says the answer is over
    MAX_HOST_ANSWER_KB while the site is still holding back the rest of it, so it was not read
    whole."""
    release, sent_whole = asyncio.Event(), asyncio.Event()

    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):
            await response.write(b'{"padding": "' + b"x" * (2 * MB))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(release.wait(), 10)
            await response.write(b"x" * (3 * MB) + b'"}')
            await response.write_eof()
            sent_whole.set()
        return response

    async with site(huge) as url:
        result = await check_site(url, max_answer_kb=64)
        sent_before = sent_whole.is_set()
        release.set()
    assert not sent_before
    assert not result.ok
    assert "more than MAX_HOST_ANSWER_KB (HTTP 200, application/json), not the API" in result.line
