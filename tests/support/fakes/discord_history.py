"""The rules the fake Discord follows to serve a channel's past, kept apart from its HTTP.

- :class:`ChannelHistory`: each channel's message ids in order, and the pages
  ``GET /channels/{id}/messages`` answers (``limit``, ``before``, ``after``, ``around``).
- :func:`history_query`: that route's query as Discord validates it (400 otherwise).
- :func:`channel_permissions`: a member's permissions in a channel, overwrites included,
  computed the way Discord (and discord.py's ``permissions_for``) does.
- :func:`mentioned`: the user and role ids a message's content mentions.
- :class:`SignedLinks`: attachment links whose ``ex``/``is``/``hm`` query expires and is
  checked by the CDN.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]

ADMINISTRATOR = 1 << 3
VIEW_CHANNEL = 1 << 10
READ_MESSAGE_HISTORY = 1 << 16
ALL_PERMISSIONS = (1 << 53) - 1

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
LINK_LIFETIME_S = 86_400
"""How long an attachment link answers after it was issued, as Discord's CDN allows."""

_USER_MENTION = re.compile(r"<@!?(\d{1,20})>")
_ROLE_MENTION = re.compile(r"<@&(\d{1,20})>")
_SNOWFLAKE = re.compile(r"^\d{1,20}$")


class InvalidForm(Exception):
    """A query Discord refuses with 400 / 50035 Invalid Form Body; ``errors`` is its detail."""

    def __init__(self, errors: JSON) -> None:
        super().__init__("Invalid Form Body")
        self.errors = errors

    def body(self) -> JSON:
        """The answer's JSON, as Discord words it."""
        return {"message": "Invalid Form Body", "code": 50035, "errors": self.errors}


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    """What one ``GET /channels/{id}/messages`` asks for: at most one anchor is set."""

    limit: int = DEFAULT_LIMIT
    before: int | None = None
    after: int | None = None
    around: int | None = None


def history_query(query: Mapping[str, str]) -> HistoryQuery:
    """The query, checked as Discord checks it; raises :class:`InvalidForm` when refused."""
    errors: JSON = {}
    limit = _limit(query.get("limit"), errors)
    anchors = {
        k: _snowflake(k, query[k], errors) for k in ("before", "after", "around") if k in query
    }
    if len(anchors) > 1:  # Discord: "mutually exclusive, only one may be passed at a time"
        problem = "before, after and around are mutually exclusive"
        errors["_errors"] = [{"code": "BASE_TYPE_BAD_FORMAT", "message": problem}]
    if errors:
        raise InvalidForm(errors)
    return HistoryQuery(limit, **{k: v for k, v in anchors.items() if v is not None})


def _limit(raw: str | None, errors: JSON) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    if not re.fullmatch(r"-?\d{1,18}", raw):
        _problem(errors, "limit", "NUMBER_TYPE_COERCE", f'Value "{raw}" is not int.')
    elif int(raw) < 1:
        _problem(
            errors, "limit", "NUMBER_TYPE_MIN", "int value should be greater than or equal to 1."
        )
    elif int(raw) > MAX_LIMIT:
        message = f"int value should be less than or equal to {MAX_LIMIT}."
        _problem(errors, "limit", "NUMBER_TYPE_MAX", message)
    else:
        return int(raw)
    return DEFAULT_LIMIT


def _snowflake(name: str, raw: str, errors: JSON) -> int | None:
    if _SNOWFLAKE.match(raw):
        return int(raw)
    _problem(errors, name, "NUMBER_TYPE_COERCE", f'Value "{raw}" is not snowflake.')
    return None


def _problem(errors: JSON, name: str, code: str, message: str) -> None:
    errors[name] = {"_errors": [{"code": code, "message": message}]}


class ChannelHistory:
    """Every channel's message ids, oldest first, and the pages Discord would answer."""

    def __init__(self) -> None:
        self._ids: dict[int, list[int]] = {}

    def add(self, channel_id: int, message_id: int) -> None:
        """Keep a message in its channel's order (appending when it is the newest, as usual)."""
        ids = self._ids.setdefault(channel_id, [])
        if not ids or message_id > ids[-1]:
            ids.append(message_id)
        else:
            bisect.insort(ids, message_id)

    def remove(self, channel_id: int, message_id: int) -> None:
        ids = self._ids.get(channel_id, [])
        at = bisect.bisect_left(ids, message_id)
        if at < len(ids) and ids[at] == message_id:
            del ids[at]

    def ids(self, channel_id: int) -> list[int]:
        """The channel's message ids, oldest first."""
        return list(self._ids.get(channel_id, []))

    def page(self, channel_id: int, query: HistoryQuery) -> list[int]:
        """The ids Discord answers for ``query``, newest first, whatever the anchor.

        ``before`` (or none): the ``limit`` newest older than it. ``after``: the ``limit``
        oldest newer than it, still sent newest first (discord.py pages on from the first
        one and reverses them). ``around``: ``limit // 2`` newer than it and the rest from
        it and older.
        """
        ids = self._ids.get(channel_id, [])
        if query.around is not None:
            newer = _newer(ids, query.around, query.limit // 2)
            older = _older(ids, query.around + 1, query.limit - query.limit // 2)
            return newer[::-1] + older
        if query.after is not None:
            return _newer(ids, query.after, query.limit)[::-1]
        before = query.before if query.before is not None else 1 << 64
        return _older(ids, before, query.limit)


def _older(ids: list[int], before: int, limit: int) -> list[int]:
    """Up to ``limit`` ids below ``before``, newest first."""
    end = bisect.bisect_left(ids, before)
    return ids[max(0, end - limit) : end][::-1]


def _newer(ids: list[int], after: int, limit: int) -> list[int]:
    """Up to ``limit`` ids above ``after``, oldest first."""
    start = bisect.bisect_right(ids, after)
    return ids[start : start + limit]


def guild_permissions(guild: JSON, member_id: int, member_roles: list[str]) -> int:
    """``member_id``'s permissions in the guild: all for its owner or an administrator, else
    what @everyone and the member's roles grant."""
    if guild["owner_id"] == str(member_id):
        return ALL_PERMISSIONS
    granted = 0
    for role in guild["roles"]:
        if role["id"] == guild["id"] or role["id"] in member_roles:
            granted |= int(role["permissions"])
    return ALL_PERMISSIONS if granted & ADMINISTRATOR else granted


def channel_permissions(guild: JSON, channel: JSON, member_id: int, member_roles: list[str]) -> int:
    """``member_id``'s permissions in a guild channel: the guild's, then the channel's
    overwrites (@everyone, the member's roles together, the member); none without View
    Channel."""
    granted = guild_permissions(guild, member_id, member_roles)
    if granted == ALL_PERMISSIONS:
        return granted
    overwrites = {(o["id"], int(o["type"])): o for o in channel.get("permission_overwrites", [])}
    granted = _apply(granted, [overwrites.get((guild["id"], 0))])
    granted = _apply(granted, [overwrites.get((r, 0)) for r in member_roles])
    granted = _apply(granted, [overwrites.get((str(member_id), 1))])
    return granted if granted & VIEW_CHANNEL else 0


def _apply(granted: int, overwrites: list[JSON | None]) -> int:
    allow = deny = 0
    for overwrite in overwrites:
        if overwrite is not None:
            allow, deny = allow | int(overwrite["allow"]), deny | int(overwrite["deny"])
    return (granted & ~deny) | allow


def mentioned(content: str) -> tuple[list[int], list[int]]:
    """The user ids (``<@id>``, ``<@!id>``) and role ids (``<@&id>``) in ``content``, each once,
    in order; channel mentions (``<#id>``) are left to clients, as Discord does."""
    if "<@" not in content:
        return [], []
    users = list(dict.fromkeys(int(m) for m in _USER_MENTION.findall(content)))
    roles = list(dict.fromkeys(int(m) for m in _ROLE_MENTION.findall(content)))
    return users, roles


class SignedLinks:
    """The ``ex`` (expiry), ``is`` (issued) and ``hm`` (signature) query of attachment links."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def query(self, attachment_id: int, filename: str, issued: int, expires: int) -> str:
        """The query for a link issued at ``issued`` (unix seconds) that answers until
        ``expires``, ending in ``&`` as Discord's do."""
        signature = self._signature(attachment_id, filename, f"{expires:x}", f"{issued:x}")
        return f"ex={expires:x}&is={issued:x}&hm={signature}&"

    def answers(
        self, attachment_id: int, filename: str, query: Mapping[str, str], now: float
    ) -> bool:
        """Whether the CDN serves a link with this query at ``now``: signed here, not expired."""
        ex, issued, signature = query.get("ex", ""), query.get("is", ""), query.get("hm", "")
        expected = self._signature(attachment_id, filename, ex, issued)
        if not hmac.compare_digest(signature, expected):
            return False
        return int(ex, 16) > now

    def _signature(self, attachment_id: int, filename: str, ex: str, issued: str) -> str:
        signed = f"{attachment_id}/{filename}?ex={ex}&is={issued}".encode()
        return hmac.new(self._key, signed, hashlib.sha256).hexdigest()
