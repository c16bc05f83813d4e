"""Links a user sends: checked, fetched only from allowed addresses, judged by their bytes.

Every server here is on 127.0.0.1, and every connection the event loop makes is watched:
one to any other address is refused and noted, so no test reaches the network even when
the code under test is wrong.
"""

import asyncio
import datetime
import ipaddress
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bot import errors
from bot.chevereto.probe import probe_png
from bot.domain import MediaKind
from bot.links.addresses import address_allowed
from bot.links.fetcher import Download, LinkFetcher, check_link, redirected, single_link
from bot.texts import error_text, render
from tests.support.fakes.link_site import watch_connections

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
LOCAL = ipaddress.ip_address("127.0.0.1")
LIMIT = 256 * 1024
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4


class Site:
    """A web server on 127.0.0.1 answering each path as a test says; it notes each request's
    path (with its query) and Host header, and over TLS the name each handshake asked for."""

    def __init__(self) -> None:
        self.pages: dict[str, Handler] = {}
        self.seen: list[tuple[str, str]] = []
        self.names: list[str | None] = []
        self.port = 0

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    async def answer(self, request: web.Request) -> web.StreamResponse:
        self.seen.append((request.path_qs, request.host))
        page = self.pages.get(request.path)
        return await page(request) if page else web.Response(status=404)

    async def start(self, tls: ssl.SSLContext | None = None) -> web.AppRunner:
        app = web.Application()
        app.router.add_get("/{path:.*}", self.answer)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls).start()
        self.port = runner.addresses[0][1]
        return runner


@pytest.fixture
async def site():
    site = Site()
    runner = await site.start()
    yield site
    await runner.cleanup()


def _certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for pics.test alone, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pics.test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("pics.test")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert, private = directory / "cert.pem", directory / "key.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, private


@pytest.fixture
async def tls_site(tmp_path, monkeypatch):
    """A site over TLS with a certificate for pics.test alone, which the fetcher trusts."""
    site = Site()
    cert, key = _certificate(tmp_path)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    server.sni_callback = lambda connection, name, context: site.names.append(name)
    client = ssl.create_default_context(cafile=cert)
    monkeypatch.setattr("bot.links.fetcher.tls_context", lambda: client)
    runner = await site.start(server)
    yield site
    await runner.cleanup()


@pytest.fixture(autouse=True)
async def connections(monkeypatch):
    """Every TCP connection the loop is asked for, as (host, port); only 127.0.0.1 is made."""
    return watch_connections(monkeypatch)


def names(table: dict[str, list[str]]):
    """A resolver answering from ``table``; any other name does not resolve."""

    async def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    return resolve


def only_local(address) -> bool:
    return address == LOCAL


def fetcher(**overrides) -> LinkFetcher:
    """Allows 127.0.0.1 and refuses every other private address; pics.test is 127.0.0.1."""
    options = {
        "allow_private": False,
        "limit_bytes": LIMIT,
        "resolver": names({"pics.test": ["127.0.0.1"]}),
        "allowed": only_local,
        "connect_timeout": 2.0,
        "read_timeout": 2.0,
    }
    return LinkFetcher(**{**options, **overrides})


def serve(data: bytes, content_type: str = "application/octet-stream", **headers) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=data, content_type=content_type, headers=headers)

    return handler


def redirect(location: str, status: int = 302) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Location": location})

    return handler


async def fetch(fetcher: LinkFetcher, url: str):
    """The download's description and its whole body."""
    async with fetcher.open(url) as download:
        body = b"".join([chunk async for chunk in download.chunks()])
    return download, body


def sentence(error: BaseException) -> str:
    return render(error_text(error), "en")


async def test_an_image_is_fetched_whole_and_judged_by_its_bytes(site):
    """A PNG served as text/plain under a .txt name is a PNG, its bytes intact, its name .png."""
    png = probe_png()
    site.pages["/notes.txt"] = serve(png, "text/plain")

    download, body = await fetch(fetcher(), site.url("/notes.txt"))

    assert body == png
    assert download.content_type == "image/png"
    assert download.kind is MediaKind.IMAGE
    assert download.filename == "notes.png"
    assert download.size == len(png)


async def test_the_host_header_names_the_links_host(site, connections):
    """A name is resolved by the fetcher and the connection made to that address, while the
    server is asked for the name the link gave."""
    site.pages["/a.jpg"] = serve(JPEG, "image/jpeg")

    download, body = await fetch(fetcher(), site.url("/a.jpg", host="pics.test"))

    assert body == JPEG
    assert download.filename == "a.jpg"
    assert site.seen == [("/a.jpg", f"pics.test:{site.port}")]
    assert connections == [("127.0.0.1", site.port)]


async def test_the_next_checked_address_is_tried_when_one_refuses(site, connections):
    """An address that refuses the connection is passed over for the name's next one."""
    site.pages["/a.jpg"] = serve(JPEG)
    loopback = fetcher(
        resolver=names({"pics.test": ["127.0.0.2", "127.0.0.1"]}),
        allowed=lambda address: address.is_loopback,
    )

    _, body = await fetch(loopback, site.url("/a.jpg", host="pics.test"))

    assert body == JPEG
    assert connections == [("127.0.0.2", site.port), ("127.0.0.1", site.port)]


async def test_tls_checks_the_links_name_at_the_checked_address(tls_site, connections):
    """Over https the connection goes to the checked address, and TLS asks for and verifies
    the link's name there."""
    tls_site.pages["/a.jpg"] = serve(JPEG)

    _, body = await fetch(fetcher(), f"https://pics.test:{tls_site.port}/a.jpg")

    assert body == JPEG
    assert tls_site.names == ["pics.test"]
    assert connections == [("127.0.0.1", tls_site.port)]


async def test_tls_refuses_a_certificate_for_another_name(tls_site):
    """A server whose certificate does not name the link's host is not trusted."""
    tls_site.pages["/a.jpg"] = serve(JPEG)
    other = fetcher(resolver=names({"other.test": ["127.0.0.1"]}))

    with pytest.raises(errors.LinkUnreachable):
        await fetch(other, f"https://other.test:{tls_site.port}/a.jpg")

    assert tls_site.seen == []


async def test_a_proxy_in_the_environment_is_not_used(site, connections, monkeypatch):
    """A proxy would look the name up again: the fetcher connects to the checked address."""
    site.pages["/a.jpg"] = serve(JPEG)
    for variable in ("HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        monkeypatch.setenv(variable, "http://127.0.0.1:9")

    _, body = await fetch(fetcher(), site.url("/a.jpg", host="pics.test"))

    assert body == JPEG
    assert connections == [("127.0.0.1", site.port)]


async def test_a_name_without_addresses_is_unreachable(connections):
    """A name the resolver knows no address for could not be reached."""
    empty = fetcher(resolver=names({"pics.test": []}))

    with pytest.raises(errors.LinkUnreachable):
        await fetch(empty, "http://pics.test/a.jpg")

    assert connections == []


async def test_a_name_is_resolved_once_and_its_checked_address_used(site, connections):
    """No second lookup can answer otherwise: the name is resolved once per request, and the
    connection goes to the address that was checked."""
    site.pages["/a.jpg"] = serve(JPEG, "image/jpeg")
    asked: list[str] = []
    answers = iter([["127.0.0.1"], ["10.9.9.9"]])

    async def rebinding(host: str, port: int) -> list[str]:
        asked.append(host)
        return next(answers)

    await fetch(fetcher(resolver=rebinding), site.url("/a.jpg", host="pics.test"))

    assert asked == ["pics.test"]
    assert connections == [("127.0.0.1", site.port)]


async def test_the_system_resolver_is_the_default(site, connections, monkeypatch):
    """Without a resolver the loop's getaddrinfo is asked, once, for the link's host."""
    site.pages["/a.jpg"] = serve(JPEG, "image/jpeg")
    loop = asyncio.get_running_loop()
    getaddrinfo = loop.getaddrinfo
    asked: list[tuple[str, int]] = []

    async def system(host, port, **kwargs):
        if host != "pics.test":
            return await getaddrinfo(host, port, **kwargs)
        asked.append((host, port))
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(loop, "getaddrinfo", system)

    _, body = await fetch(fetcher(resolver=None), site.url("/a.jpg", host="pics.test"))

    assert body == JPEG
    assert asked == [("pics.test", site.port)]


async def test_a_page_is_refused_as_a_page(site):
    """An HTML page, whatever type the server names, is refused in one sentence saying so."""
    site.pages["/photo.png"] = serve(b"\xef\xbb\xbf\n  <!DOCTYPE html><html>hi</html>", "image/png")

    with pytest.raises(errors.LinkIsPage) as caught:
        await fetch(fetcher(), site.url("/photo.png"))

    assert sentence(caught.value) == "That link is a page, not an image or a video."
    assert render(error_text(caught.value), "zh") == "该链接是一个网页，不是图片或视频。"


async def test_other_bytes_are_not_media(site):
    """A file that is no image, video nor page is refused as no image or video."""
    site.pages["/a.jpg"] = serve(b"%PDF-1.7\n" + b"x" * 100, "image/jpeg")

    with pytest.raises(errors.LinkNotMedia) as caught:
        await fetch(fetcher(), site.url("/a.jpg"))

    assert not isinstance(caught.value, errors.LinkIsPage)
    assert isinstance(caught.value, errors.UnsupportedMedia)
    assert sentence(caught.value) == "That link is not an image or a video."


async def test_a_short_file_is_judged_by_all_it_has(site):
    """A body shorter than the bytes the judgement wants is judged on what there is."""
    site.pages["/tiny.gif"] = serve(b"GIF89a\x01\x00")

    download, body = await fetch(fetcher(), site.url("/tiny.gif"))

    assert (download.content_type, body) == ("image/gif", b"GIF89a\x01\x00")


def _hops(site: Site) -> None:
    """/hop/N redirects to /hop/N-1 (relatively, by each redirect status in turn); /hop/0 is
    a JPEG."""
    statuses = [301, 302, 303, 307, 308]
    for n in range(1, 8):
        site.pages[f"/hop/{n}"] = redirect(f"{n - 1}", statuses[n % len(statuses)])
    site.pages["/hop/0"] = serve(JPEG)


async def test_five_redirects_are_followed(site):
    """A chain of five redirects, each hop checked, ends at the file."""
    _hops(site)

    download, body = await fetch(fetcher(), site.url("/hop/5", host="pics.test"))

    assert body == JPEG
    assert download.filename == "0.jpg"
    assert [path for path, _ in site.seen] == [f"/hop/{n}" for n in range(5, -1, -1)]


async def test_a_sixth_redirect_is_refused(site):
    """A sixth redirect is not followed: the error says the limit."""
    _hops(site)

    with pytest.raises(errors.TooManyRedirects) as caught:
        await fetch(fetcher(), site.url("/hop/6"))

    assert [path for path, _ in site.seen] == [f"/hop/{n}" for n in range(6, 0, -1)]
    assert sentence(caught.value) == "That link redirects more than 5 times."


async def test_a_redirect_to_a_private_address_is_refused_unconnected(site, connections):
    """A redirect to an address the policy refuses is refused before any connection to it
    (127.0.0.2 here: no test names an address off this machine; the private ranges are
    classified in the table below)."""
    site.pages["/away"] = redirect(f"http://127.0.0.2:{site.port}/secret")

    with pytest.raises(errors.AddressRefused) as caught:
        await fetch(fetcher(), site.url("/away"))

    assert connections == [("127.0.0.1", site.port)]
    assert "private" in sentence(caught.value)


async def test_a_redirect_to_another_scheme_is_refused(site):
    """Each hop is checked as the link was: a redirect to ftp:// is refused."""
    site.pages["/away"] = redirect("ftp://pics.test/a.jpg")

    with pytest.raises(errors.LinkSchemeRefused):
        await fetch(fetcher(), site.url("/away"))


async def test_a_name_with_one_private_address_is_refused(site, connections):
    """One refused address among a name's addresses refuses the link; nothing is connected."""
    resolver = names({"mixed.test": ["127.0.0.1", "127.0.0.2"]})

    with pytest.raises(errors.AddressRefused):
        await fetch(fetcher(resolver=resolver), site.url("/a.jpg", host="mixed.test"))

    assert site.seen == []
    assert connections == []


async def test_an_address_in_the_link_is_checked_too(site, connections):
    """An IP literal is judged as a resolved name is."""
    with pytest.raises(errors.AddressRefused):
        await fetch(fetcher(), f"http://127.0.0.2:{site.port}/a.jpg")

    assert connections == []


async def test_the_default_policy_refuses_loopback(site):
    """Without FETCH_PRIVATE_ADDRESSES a link to the bot's own loopback is refused."""
    site.pages["/a.jpg"] = serve(JPEG)

    with pytest.raises(errors.AddressRefused):
        await fetch(fetcher(allowed=None), site.url("/a.jpg"))

    assert site.seen == []


async def test_allowing_private_addresses_reaches_them(site):
    """With FETCH_PRIVATE_ADDRESSES the loopback is fetched."""
    site.pages["/a.jpg"] = serve(JPEG)

    _, body = await fetch(fetcher(allow_private=True, allowed=None), site.url("/a.jpg"))

    assert body == JPEG


async def test_a_declared_size_over_the_limit_is_refused_before_the_body(site):
    """A Content-Length over the limit is refused at once: the body is never waited for."""
    sent = asyncio.Event()

    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
        response.content_length = LIMIT + 1
        await response.prepare(request)
        await sent.wait()  # the body never comes while the fetcher could wait for it
        return response

    site.pages["/huge.jpg"] = huge

    with pytest.raises(errors.MediaTooLarge) as caught:
        await fetch(fetcher(read_timeout=10.0), site.url("/huge.jpg"))
    sent.set()

    assert caught.value.limit_mb == 1


async def test_an_endless_body_is_cut_at_the_limit(site):
    """Without a Content-Length, the body is cut once it passes the limit."""

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(JPEG)
        try:
            for _ in range(1000):
                await response.write(b"\x00" * 65536)
        except ConnectionError:
            pass
        return response

    site.pages["/endless.jpg"] = endless
    received: list[int] = []

    async def drain(download: Download) -> None:
        async for chunk in download.chunks():
            received.append(len(chunk))

    async with fetcher().open(site.url("/endless.jpg")) as download:
        with pytest.raises(errors.MediaTooLarge):
            await drain(download)

    assert download.size is None
    assert LIMIT - 65536 < sum(received) <= LIMIT


async def test_a_body_that_stops_short_is_unreachable(site):
    """A connection cut before the declared length is a failure that passes."""

    async def cut(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_length = 10 * len(JPEG)
        await response.prepare(request)
        await response.write(JPEG)
        request.transport.close()
        return response

    site.pages["/cut.jpg"] = cut

    with pytest.raises(errors.LinkUnreachable):
        await fetch(fetcher(), site.url("/cut.jpg"))


async def test_a_missing_file_reports_the_status(site):
    """A 404 is refused with the status in the sentence."""
    with pytest.raises(errors.LinkBadStatus) as caught:
        await fetch(fetcher(), site.url("/gone.jpg"))

    assert caught.value.status == 404
    assert sentence(caught.value) == "The server of that link answered 404."


async def test_a_closed_port_is_unreachable():
    """No server listening: the link could not be reached, which the job runner retries."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with pytest.raises(errors.LinkUnreachable) as caught:
        await fetch(fetcher(), f"http://pics.test:{port}/a.jpg")

    assert isinstance(caught.value, errors.SourceUnavailable)
    assert caught.value.host == "pics.test"


async def test_an_unknown_name_is_unreachable(connections):
    """A name that does not resolve could not be reached; nothing is connected."""
    with pytest.raises(errors.LinkUnreachable):
        await fetch(fetcher(), "http://nowhere.test/a.jpg")

    assert connections == []


async def test_the_query_is_never_logged(site, caplog):
    """Logs name the link's host, never its path or query, which may hold a secret."""
    caplog.set_level(logging.DEBUG, logger="bot.links.fetcher")
    site.pages["/a.jpg"] = redirect("/b.jpg?sig=SECRET2")
    site.pages["/b.jpg"] = serve(JPEG)

    await fetch(fetcher(), site.url("/a.jpg?token=SECRET1", host="pics.test"))

    assert "pics.test" in caplog.text
    assert "SECRET" not in caplog.text


async def test_the_servers_file_name_is_kept_with_a_fitting_ending(site):
    """Content-Disposition's name (RFC 2231 too) wins over the URL's, its ending fixed."""
    site.pages["/download"] = serve(
        JPEG, **{"Content-Disposition": "attachment; filename*=UTF-8''%E7%8C%AB%2F..%2Fcat.JPEG"}
    )
    site.pages["/get.php"] = serve(JPEG, **{"Content-Disposition": 'inline; filename="a b.exe"'})
    site.pages["/"] = serve(JPEG)

    named, _ = await fetch(fetcher(), site.url("/download"))
    renamed, _ = await fetch(fetcher(), site.url("/get.php"))
    unnamed, _ = await fetch(fetcher(), site.url("/"))

    assert named.filename == "cat.jpeg"
    assert renamed.filename == "a b.jpg"
    assert unnamed.filename == "link.jpg"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("ftp://pics.test/a.jpg", errors.LinkSchemeRefused),
        ("file:///etc/passwd", errors.LinkSchemeRefused),
        ("http://user:pass@pics.test/a.jpg", errors.LinkHasCredentials),
        ("https://token@pics.test/a.jpg", errors.LinkHasCredentials),
        ("http:///a.jpg", errors.LinkWithoutHost),
        ("http://pics.test/a.jpg http://pics.test/b.jpg", errors.NotALink),
        ("   ", errors.NotALink),
        ("http://pics.test:99999/", errors.NotALink),
    ],
)
async def test_a_link_that_is_not_fetched_is_refused_unconnected(text, error, connections):
    """Other schemes, credentials, no host, more than one URL: each its own sentence, and no
    connection is made."""
    with pytest.raises(error) as caught:
        check_link(text)
    with pytest.raises(error):
        await fetch(fetcher(), text)

    assert connections == []
    assert error_text(caught.value).key != "error.unexpected"
    assert "\n" not in sentence(caught.value)


def test_a_good_link_is_returned_stripped():
    """One http(s) URL, blanks around it, is the link."""
    assert check_link("  https://pics.test/a.jpg?x=1 \n") == "https://pics.test/a.jpg?x=1"


@pytest.mark.parametrize(
    ("text", "link"),
    [
        ("https://pics.test/a.jpg", "https://pics.test/a.jpg"),
        ("  HTTP://pics.test/a.jpg\n", "HTTP://pics.test/a.jpg"),
        ("http://user:pass@pics.test/", "http://user:pass@pics.test/"),
        ("look: https://pics.test/a.jpg", None),
        ("https://pics.test/a.jpg https://pics.test/b.jpg", None),
        ("ftp://pics.test/a.jpg", None),
        ("pics.test/a.jpg", None),
        ("", None),
        (None, None),
    ],
)
def test_a_message_of_one_link_is_told(text, link):
    """A text that is one http(s) link and nothing else asks for that link's upload (refused
    later, in its own words, when the bot will not fetch it)."""
    assert single_link(text) == link


ADDRESSES = [
    ("93.184.216.34", True),
    ("1.1.1.1", True),
    ("2606:4700:4700::1111", True),
    ("::ffff:93.184.216.34", True),
    ("64:ff9b::5db8:d822", True),
    ("2002:5db8:d822::1", True),
    ("127.0.0.1", False),
    ("127.8.9.10", False),
    ("10.0.0.1", False),
    ("172.16.5.4", False),
    ("192.168.1.1", False),
    ("169.254.169.254", False),
    ("100.64.0.1", False),
    ("100.127.255.254", False),
    ("224.0.0.1", False),
    ("239.255.255.250", False),
    ("240.0.0.1", False),
    ("0.0.0.0", False),
    ("255.255.255.255", False),
    ("192.0.2.1", False),
    ("198.18.0.1", False),
    ("::1", False),
    ("::", False),
    ("fc00::1", False),
    ("fd12:3456::1", False),
    ("fe80::1", False),
    ("fec0::1", False),
    ("ff02::1", False),
    ("ff0e::1", False),
    ("2001:db8::1", False),
    ("::ffff:10.0.0.1", False),
    ("::ffff:127.0.0.1", False),
    ("::10.0.0.1", False),
    ("64:ff9b::a00:1", False),
    ("64:ff9b::7f00:1", False),
    ("64:ff9b:1::a00:1", False),
    ("2002:a00:1::1", False),
    ("2002:7f00:1::1", False),
    ("2002:a9fe:a9fe::1", False),
]


@pytest.mark.parametrize(("address", "allowed"), ADDRESSES, ids=[a for a, _ in ADDRESSES])
def test_only_public_addresses_are_allowed(address, allowed):
    """Loopback, private, link-local, CGNAT, multicast, reserved, unspecified and broadcast
    addresses are refused, in IPv4 and IPv6, and so is an IPv6 address carrying one."""
    assert address_allowed(address) is allowed
    assert address_allowed(ipaddress.ip_address(address)) is allowed


@pytest.mark.parametrize(
    "error",
    [
        errors.NotALink(),
        errors.LinkSchemeRefused(),
        errors.LinkHasCredentials(),
        errors.LinkWithoutHost(),
        errors.AddressRefused("pics.test"),
        errors.TooManyRedirects(5),
        errors.LinkBadStatus(503),
        errors.LinkUnreachable("pics.test"),
        errors.LinkTooSlow("pics.test"),
        errors.LinkIsPage(),
        errors.LinkNotMedia(),
    ],
    ids=lambda e: type(e).__name__,
)
def test_every_link_error_is_one_sentence_of_its_own(error):
    """Each link error has its own sentence, one line in both languages."""
    text = error_text(error)
    assert text.key.startswith(("error.link_", "error.not_a_link"))
    for language in ("en", "zh"):
        assert "\n" not in render(text, language)


@pytest.mark.parametrize(
    "link",
    [
        "http://inside.test/a.png",
        "http://10.0.0.1/a.png",
        "http://[fe80::1]/a.png",
        "http://[::ffff:10.0.0.1]/a.png",
        redirected("http://pics.test/away", "http://inside.test/secret"),
        redirected("http://pics.test/away", "//169.254.169.254/latest/meta-data"),
    ],
)
async def test_names_and_redirects_to_private_addresses_are_classified_refused(link):
    """With the default policy, a link whose name resolves to a private address, an address
    in the link, and a redirect's target are refused by the check alone: it resolves with a
    resolver the test controls and connects to nothing."""
    checker = LinkFetcher(
        allow_private=False,
        limit_bytes=LIMIT,
        resolver=names({"inside.test": ["192.168.1.1"], "pics.test": ["93.184.216.34"]}),
    )
    with pytest.raises(errors.AddressRefused):
        await checker.addresses(link)


async def test_a_public_name_passes_the_check():
    """The check's other side: a name resolving to public addresses only is allowed."""
    checker = LinkFetcher(
        allow_private=False, limit_bytes=LIMIT, resolver=names({"pics.test": ["93.184.216.34"]})
    )
    assert [str(a) for a in await checker.addresses("https://pics.test/a.png")] == ["93.184.216.34"]
