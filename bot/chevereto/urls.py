"""The URLs of a host's answer, kept only where the bot may show them.

A URL from the host goes into buttons, texts and embed codes. A chat platform refuses a
button whose URL is not http(s), and a ``javascript:`` or ``data:`` URL has no place in an
embed code someone pastes into a page. So each is used only when it is an http or https URL
with a host; any other is left out, with one WARNING line naming the fields (never their
values: one may be a delete link). Another host than CHEVERETO_URL's (a CDN) is normal.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

log = logging.getLogger(__name__)


def usable_url(value: str) -> bool:
    """An http(s) URL with a host, with no space nor control character in it."""
    if any(c.isspace() or not c.isprintable() for c in value):
        return False
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:  # a malformed port or IPv6 address
        return False
    return parts.scheme.lower() in ("http", "https") and bool(host)


@dataclass(frozen=True, slots=True)
class Links:
    """The usable URLs of one answer, by field name, and the two links shown to people: the
    viewer (the short link in its place when the viewer is not usable) and the short link
    (None when it is not usable, or stands in for the viewer)."""

    viewer: str | None
    short: str | None
    kept: Mapping[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        return self.kept.get(name)


def usable_links(found: Mapping[str, str | None], image_id: str) -> Links:
    """The usable ones among ``found`` (absent ones are None); one WARNING for those left out."""
    dropped = [name for name, value in found.items() if value is not None and not usable_url(value)]
    if dropped:
        log.warning(
            "the host's answer for image %s has %s that %s not an http(s) URL: left out",
            image_id,
            ", ".join(dropped),
            "is" if len(dropped) == 1 else "are",
        )
    kept = {name: value for name, value in found.items() if value and name not in dropped}
    viewer, short = kept.get("url_viewer"), kept.get("url_short")
    if viewer is None:
        return Links(short, None, kept)
    return Links(viewer, short, kept)
