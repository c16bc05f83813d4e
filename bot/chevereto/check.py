"""The start-up check of CHEVERETO_URL: one key-less upload call, and what its answer means.

Chevereto answers ``POST <site>/api/1/upload`` without a key with its JSON error
code 100 ("No key provided"). That one answer proves the address, the path and
the API at once, without a key and without uploading anything. Anything else is
a misconfiguration an admin would otherwise hear of from the first user: an HTML
page (a wrong base URL, a login or proxy page), a redirect (http to https, a
``www.`` host), a refused connection, a name that does not resolve, a TLS error.
The check says which in one line, with what to check; the bot starts either way.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Final

import httpx

from bot.chevereto.body import DEFAULT_LIMIT_KB, KB, read_capped
from bot.chevereto.client import UPLOAD_PATH
from bot.ops.network import network_problem
from bot.ops.tls import tls_context

log = logging.getLogger(__name__)
TIMEOUT_S: Final = 10.0
"""Long enough for a slow site, short enough that a hanging one is named soon."""

_NETWORK_HINTS: Final = {
    "connection refused": "check the host and port in CHEVERETO_URL, and that the site is up",
    "DNS lookup failed": "check the host name in CHEVERETO_URL, and this machine's DNS",
    "TLS error": "check http/https in CHEVERETO_URL, and the site's certificate",
    "timed out": "check that the site is up and reachable from here (firewall, proxy)",
}


@dataclass(frozen=True, slots=True)
class SiteCheck:
    """What the site answered: ``ok`` when it is a Chevereto API v1; ``line`` says what came
    back and, when not ok, what to check."""

    ok: bool
    line: str


def _shown(url: httpx.URL) -> str:
    """The URL without credentials an admin may have put in it."""
    return str(url.copy_with(username=None, password=None))


def _redirect(response: httpx.Response, where: str) -> SiteCheck:
    """A 3xx: where it points, and the base URL to set when it points at the API."""
    target = response.headers.get("location", "")
    to = _shown(response.url.join(target)) if target else "nowhere"
    base = to.removesuffix(UPLOAD_PATH) if to.endswith(UPLOAD_PATH) else None
    advice = f"set CHEVERETO_URL={base}" if base else "set CHEVERETO_URL to the site's own address"
    return SiteCheck(
        False, f"{where} answered a redirect (HTTP {response.status_code}) to {to}: {advice}"
    )


def _json_answer(response: httpx.Response, body: bytes, where: str) -> SiteCheck | None:
    """The check for a JSON answer; None when the body is not JSON."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    error = data.get("error") if isinstance(data, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    if code == 100:
        return SiteCheck(True, f"{where} answers as a Chevereto API v1")
    if code == 401:
        return SiteCheck(
            False, f"{where} refuses API uploads (code 401): allow them in the site's dashboard"
        )
    # Raw host text (PHP warnings, SQL) is never logged: the status and the code say enough.
    return SiteCheck(
        False,
        f"{where} answered JSON that is not Chevereto's (HTTP {response.status_code}, "
        f"code {code!r}): check that CHEVERETO_URL is the Chevereto site's address",
    )


def _not_json(response: httpx.Response, body: bytes | None, where: str) -> SiteCheck:
    """An answer without JSON: an HTML page (most often), or any other body (None: one over
    MAX_HOST_ANSWER_KB)."""
    kind = response.headers.get("content-type", "").split(";")[0].strip() or "no type"
    status = response.status_code
    if body is None:
        what = f"more than MAX_HOST_ANSWER_KB (HTTP {status}, {kind}), not the API"
    elif kind == "text/html" or body.lstrip()[:1] == b"<":
        what = f"an HTML page (HTTP {status}), not the API"
    else:
        what = f"HTTP {status} without JSON ({kind})"
    return SiteCheck(
        False,
        f"{where} answered {what}: check that CHEVERETO_URL is the site's base address (the "
        f"API is at <base>{UPLOAD_PATH}) and that no login page or proxy stands in front of it",
    )


def read_answer(response: httpx.Response, body: bytes | None) -> SiteCheck:
    """What one answer to the key-less upload call means; ``body`` is None when it was over
    MAX_HOST_ANSWER_KB (and not read further)."""
    where = _shown(response.request.url)
    if 300 <= response.status_code < 400:
        return _redirect(response, where)
    if body is None:
        return _not_json(response, body, where)
    return _json_answer(response, body, where) or _not_json(response, body, where)


def read_failure(url: str, error: httpx.HTTPError) -> SiteCheck:
    """What a request that got no answer means: the network problem, named, and its remedy."""
    problem = network_problem(error)
    hint = _NETWORK_HINTS.get(problem, "check CHEVERETO_URL and the network")
    return SiteCheck(False, f"{_shown(httpx.URL(url))} could not be reached ({problem}): {hint}")


async def check_site(
    base_url: str,
    *,
    wait_s: float = TIMEOUT_S,
    max_answer_kb: int = DEFAULT_LIMIT_KB,
    transport: httpx.AsyncBaseTransport | None = None,
) -> SiteCheck:
    """One key-less ``POST <base>/api/1/upload``, redirects not followed, no cookies kept, at
    most ``max_answer_kb`` of the answer read."""
    url = base_url.rstrip("/") + UPLOAD_PATH
    async with httpx.AsyncClient(
        timeout=wait_s, follow_redirects=False, verify=tls_context(), transport=transport
    ) as http:
        try:
            async with http.stream(
                "POST", url, data={"format": "json"}, headers={"Accept": "application/json"}
            ) as response:
                body = await read_capped(response, max_answer_kb * KB)
        except httpx.HTTPError as error:
            return read_failure(url, error)
    return read_answer(response, body)


async def report_site(
    base_url: str, *, wait_s: float = TIMEOUT_S, max_answer_kb: int = DEFAULT_LIMIT_KB
) -> SiteCheck:
    """Checks the site and logs one line: INFO when it is a Chevereto API v1, else WARNING.
    Never raises: a failed check must not stop the bot."""
    try:
        result = await check_site(base_url, wait_s=wait_s, max_answer_kb=max_answer_kb)
    except Exception as error:  # the check is advice; the bot serves regardless
        result = SiteCheck(False, f"the check of CHEVERETO_URL failed ({type(error).__name__})")
    if result.ok:
        log.info("CHEVERETO_URL check: %s", result.line)
    else:
        log.warning("CHEVERETO_URL check: %s", result.line)
    return result
