"""Typed errors of the core.

Adapters turn any of these into one translated sentence (see ``bot.texts``);
none of them carries a key, a token or raw text from the host.

```text
BotError
├── NotLinked            no key for this user, and no default key
├── MediaRejected
│   ├── UnsupportedMedia     not an image or a video
│   │   └── LinkNotMedia         a link's first bytes show neither
│   │       └── LinkIsPage           they show a web page
│   ├── MediaTooLarge        over the platform's or MAX_UPLOAD_MB's limit
│   ├── MediaUnavailable     the platform no longer serves it (deleted, link expired)
│   ├── SourceRefused        the platform's server put it where the bot may not read
│   └── SizeMismatch         the file is not the size the platform declared
├── BadOption
│   ├── InvalidExpiration    not an ISO-8601 duration nor a short form
│   ├── InvalidAlbum         not an encoded album id
│   └── InvalidArgument      a command argument that does not parse
├── SourceUnavailable    the chat platform could not hand over the file (retried)
│   ├── SourceTooSlow        its download moved under MIN_TRANSFER_KBPS: cut
│   └── LinkUnreachable      a link's server: no address, no connection, a timeout
│       └── LinkTooSlow          it sent under MIN_TRANSFER_KBPS, or past LINK_DEADLINE: cut
├── LinkError            a link the bot does not fetch, or whose server gave no file
│   ├── NotALink             not exactly one URL
│   ├── LinkSchemeRefused    not http or https
│   ├── LinkHasCredentials   a user name or password in it
│   ├── LinkWithoutHost      no host name
│   ├── AddressRefused       its host stands for a loopback, private, ... address
│   ├── TooManyRedirects     more redirects than the limit
│   └── LinkBadStatus        the server answered another status than 200
├── StartupFailed        the database or a setting refuses us at start (exit code 1)
│   └── TokenRejected        the platform refused its token (HTTP 401): exit code 2
├── NotAllowed           the user may not do this (not an admin, not the uploader)
├── RateLimited          too many uploads from one user at once
├── QuotaReached         SHARED_KEY_DAILY_LIMIT uploads today with a key not the user's own
└── HostError            each kind has a short ``kind`` label (metrics, /stats)
    ├── KeyRejected          code 100: the host refused the key
    ├── UploadsDisabled      code 401: the site refuses API uploads
    ├── Duplicate            codes 101-103: already on the host
    ├── FileTooLargeForHost  "File too big - max N MB"
    │   └── ProxyRefusedSize     a 413 that is not Chevereto's JSON: a proxy in front of it
    ├── FileRefused          bad image, format disabled, FFprobe, width
    │   └── SourceInfoRefused    code 610: not taken as sent (a width larger than the image)
    ├── HostFull             codes 104, 900
    ├── HostRejected         any other JSON error from the host (raw text kept for logs only)
    └── HostUnavailable      a failure that passes: the job tries again later; ``after_body``
        │                    when the whole file had gone out (the host may have stored it)
        ├── HostNotAnswering     no connection, a timeout, a connection cut
        ├── HostTooSlow          it took the file under MIN_TRANSFER_KBPS, or its answer came
        │                        too slowly to end by its deadline: cut
        ├── NotTheApi            a web page (or any answer not JSON, 5xx pages included), or
        │   │                    an answer over MAX_HOST_ANSWER_KB, instead of the API's
        │   └── Redirected           a 3xx: a wrong base URL
        ├── HostFlooding         the site's upload flood limit (code 130 "Flooding…", a 429)
        └── HostDown             not sent: the host is down (failed 5 times in a row); the
                                 file waits for it, up to HOST_OUTAGE_PATIENCE
```
"""

from __future__ import annotations

from typing import ClassVar


class BotError(Exception):
    """Base of every error the core raises on purpose."""


class NotLinked(BotError):
    """The user linked no key and no default key applies."""


class MediaRejected(BotError):
    """The media is refused before anything is downloaded."""


class UnsupportedMedia(MediaRejected):
    """The file is neither an image nor a video."""


class MediaTooLarge(MediaRejected):
    """The file is larger than the limit; ``limit_mb`` is that limit."""

    def __init__(self, limit_mb: int) -> None:
        super().__init__(f"file larger than {limit_mb} MB")
        self.limit_mb = limit_mb


class MediaUnavailable(MediaRejected):
    """The platform no longer serves the file (a deleted message, an expired link)."""


class SourceRefused(MediaRejected):
    """The platform's file server handed over a file where the bot may not read it (outside the
    folder the operator allowed, or among the bot's own data): a misconfigured or hostile
    server, which no retry cures."""


class SizeMismatch(MediaRejected):
    """The file the platform handed over is not the size it declared: it is not sent, since the
    request's length was that size."""


class BadOption(BotError):
    """A command argument or upload option is not valid."""


class InvalidExpiration(BadOption):
    """Not an ISO-8601 duration (PT5M, P3D) nor a short form (5m, 1h, 3d, 2w)."""


class InvalidAlbum(BadOption):
    """Not an encoded Chevereto album id."""


class InvalidArgument(BadOption):
    """A command argument that does not parse; ``usage`` names the command."""

    def __init__(self, usage: str) -> None:
        super().__init__(usage)
        self.usage = usage


class SourceUnavailable(BotError):
    """The chat platform could not hand over the file just now; the job tries again later."""


class SourceTooSlow(SourceUnavailable):
    """Cut: the chat platform's download moved slower than MIN_TRANSFER_KBPS."""


class StartupFailed(BotError):
    """Something the bot cannot run without refused it at start; the message says what to fix.

    ``python -m bot`` logs the message as one line and exits with ``exit_code``.
    """

    exit_code: ClassVar[int] = 1


class TokenRejected(StartupFailed):
    """A platform refused the bot's token: no retry can help, the operator must set another.

    Exit code 2, so a supervisor (systemd, Docker) can tell a configuration error from a crash.
    """

    exit_code: ClassVar[int] = 2

    def __init__(self, platform: str, variable: str) -> None:
        super().__init__(f"{platform} refused {variable}: check the token")
        self.variable = variable


class NotAllowed(BotError):
    """The user may not do this here."""


class RateLimited(BotError):
    """The user sent more uploads than the bot accepts at once."""


class QuotaReached(BotError):
    """The user made today's SHARED_KEY_DAILY_LIMIT uploads with a key that is not theirs."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"shared-key limit {limit} reached")
        self.limit = limit


class HostError(BotError):
    """The Chevereto host answered with a failure, or could not be reached."""

    kind: ClassVar[str] = "host"
    """A short label for the metrics (``chevereto_bot_host_errors_total{kind}``) and /stats."""


class KeyRejected(HostError):
    """The host refused the API key (code 100)."""

    kind: ClassVar[str] = "keyrejected"


class UploadsDisabled(HostError):
    """The site refuses uploads through its API (code 401, "Request denied")."""

    kind: ClassVar[str] = "uploadsdisabled"


class Duplicate(HostError):
    """The file is already on the host (codes 101-103)."""

    kind: ClassVar[str] = "duplicate"


class FileTooLargeForHost(HostError):
    """The host's own size limit; ``limit_mb`` is None when it did not say."""

    kind: ClassVar[str] = "filetoolargeforhost"

    def __init__(self, limit_mb: int | None) -> None:
        super().__init__(f"host limit {limit_mb} MB")
        self.limit_mb = limit_mb


class ProxyRefusedSize(FileTooLargeForHost):
    """A proxy in front of the site refused the file's size (an HTTP 413 that is not
    Chevereto's JSON: Chevereto itself never sends one). Not tried again: the same bytes meet
    the same limit on every attempt."""

    kind: ClassVar[str] = "proxy"

    def __init__(self) -> None:
        super().__init__(None)


class FileRefused(HostError):
    """The host refused the file itself: invalid image, format or width."""

    kind: ClassVar[str] = "filerefused"


class SourceInfoRefused(FileRefused):
    """Code 610: the host could not take the file as sent; with a width, one larger than the
    image's own."""

    kind: ClassVar[str] = "sourceinforefused"


class HostFull(HostError):
    """The host has no storage left (codes 104, 900)."""

    kind: ClassVar[str] = "full"


class HostRejected(HostError):
    """Any other error the host answered; ``code`` and ``detail`` are for logs only."""

    kind: ClassVar[str] = "rejected"

    def __init__(self, code: int | str, detail: str) -> None:
        super().__init__(f"host error {code}")
        self.code = code
        self.detail = detail


class HostUnavailable(HostError):
    """The host failed in a way that passes: the job tries again later. Raised as one of its
    kinds, each with its own sentence."""

    kind: ClassVar[str] = "unavailable"

    def __init__(self, message: str = "", *, after_body: bool = False) -> None:
        super().__init__(message)
        self.after_body = after_body
        """The whole file had gone out before it failed: the host may have stored it."""


class HostNotAnswering(HostUnavailable):
    """No answer at all: no connection, a timeout, a connection cut."""

    kind: ClassVar[str] = "unavailable"


class HostTooSlow(HostUnavailable):
    """Cut: the host took the file slower than MIN_TRANSFER_KBPS, or, the file sent, its answer
    did not end by its deadline (``after_body``)."""

    kind: ClassVar[str] = "slow"


class NotTheApi(HostUnavailable):
    """Something answered, but not the API: a web page (the site in maintenance, a login or
    proxy page, CHEVERETO_URL wrong), any answer that is not JSON (5xx pages included), or one
    larger than MAX_HOST_ANSWER_KB."""

    kind: ClassVar[str] = "page"


class Redirected(NotTheApi):
    """The host answered a 3xx: a wrong base URL (or http to https), which no retry cures."""

    kind: ClassVar[str] = "redirect"


class HostFlooding(HostUnavailable):
    """The site's upload flood limit (code 130 "Flooding detected…", or a 429 in front of it):
    it passes, so the job tries again later."""

    kind: ClassVar[str] = "flooding"


class HostDown(HostUnavailable):
    """Nothing was sent: the host is down (``bot.jobs.outage``), and the file waits for its
    return, up to HOST_OUTAGE_PATIENCE."""

    kind: ClassVar[str] = "down"


class LinkNotMedia(UnsupportedMedia):
    """The first bytes at a link show neither an image nor a video."""


class LinkIsPage(LinkNotMedia):
    """The link gives a web page, as a link to a picture's page (not the picture) does."""


class LinkUnreachable(SourceUnavailable):
    """A link's server could not be reached: its name did not resolve, no connection, a
    timeout, a cut. ``host`` is the link's host alone: a URL's query may hold a secret."""

    def __init__(self, host: str) -> None:
        super().__init__(f"{host} could not be reached")
        self.host = host


class LinkTooSlow(LinkUnreachable):
    """Cut: a link's server sent slower than MIN_TRANSFER_KBPS, or not all by LINK_DEADLINE."""


class LinkError(BotError):
    """A link the bot does not fetch, or whose server gave no file."""


class NotALink(LinkError):
    """The text is not exactly one URL."""


class LinkSchemeRefused(LinkError):
    """The link is not http or https."""


class LinkHasCredentials(LinkError):
    """The link holds a user name or password: the bot sends nobody's credentials."""


class LinkWithoutHost(LinkError):
    """The link names no host."""


class AddressRefused(LinkError):
    """The link's host stands for an address the bot does not reach for its users: loopback,
    private, link-local, multicast, reserved (unless FETCH_PRIVATE_ADDRESSES)."""

    def __init__(self, host: str) -> None:
        super().__init__(f"{host} leads to an address not fetched")
        self.host = host


class TooManyRedirects(LinkError):
    """The link redirects more than ``limit`` times."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} redirects")
        self.limit = limit


class LinkBadStatus(LinkError):
    """The link's server answered ``status``, not 200."""

    def __init__(self, status: int) -> None:
        super().__init__(f"the server answered {status}")
        self.status = status
