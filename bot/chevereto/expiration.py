"""Upload expirations: what users type, turned into the ISO-8601 duration Chevereto wants.

Chevereto does not refuse a bad ``expiration``: garbage silently becomes five minutes.
So the bot validates here, before anything is sent, and only ever sends a normalised
duration such as ``PT5M`` or ``P3D``.
"""

from __future__ import annotations

import re
from datetime import timedelta

from bot.errors import InvalidExpiration

EXPIRATION_CHOICES: tuple[str, ...] = (
    *("PT5M", "PT15M", "PT30M", "PT1H", "PT3H", "PT6H", "PT12H"),
    *("P1D", "P2D", "P3D", "P4D", "P5D", "P6D", "P1W", "P2W", "P3W"),
    *("P1M", "P2M", "P3M", "P4M", "P5M", "P6M", "P1Y"),
)
"""The site's own list of expirations, shortest first."""

SHORTEST_EXPIRATION = "PT5M"
"""The host clamps anything shorter up to this."""

_OFF = frozenset({"", "off", "0", "none"})

# A number is at most six significant digits: enough for any sensible duration, and
# it keeps absurd values (and Python's int() digit limit) away from the host.
_N = r"0*([0-9]{1,6})"

_ISO = re.compile(
    rf"P(?:{_N}Y)?(?:{_N}M)?(?:{_N}W)?(?:{_N}D)?(?:T(?=[0-9])(?:{_N}H)?(?:{_N}M)?(?:{_N}S)?)?"
)
_ISO_FIELDS = ("Y", "MO", "W", "D", "H", "MI", "S")

_SHORT = re.compile(rf"{_N}\s*(m|min|h|hr|d|w|mo|y)")
_SHORT_FIELDS = {"m": "MI", "min": "MI", "h": "H", "hr": "H", "d": "D", "w": "W"}
_SHORT_FIELDS |= {"mo": "MO", "y": "Y"}
_FIELD_SECONDS = {"Y": 365 * 86400, "MO": 30 * 86400, "W": 7 * 86400, "D": 86400}
_FIELD_SECONDS |= {"H": 3600, "MI": 60, "S": 1}


def parse_expiration(text: str) -> str | None:
    """The normalised ISO-8601 duration ``text`` names, or None for "no expiration".

    Accepts ISO durations in any case (``PT5M``, ``p3d``, ``PT1H30M``) and short forms
    ``<n><unit>`` with m (minutes), h, d, w, mo (months) and y. ``off``, ``none``, ``0``
    and the empty string mean no expiration. Raises InvalidExpiration otherwise, and for
    a zero duration.
    """
    cleaned = text.strip()
    if cleaned.lower() in _OFF:
        return None
    parts = _parts(cleaned)
    if not parts:
        raise InvalidExpiration(text)
    return _to_iso(parts)


def parse_duration(text: str) -> timedelta:
    """A length of time written as users write an expiration (``PT1H``, ``1h``, ``30m``), for a
    setting: a month counts 30 days, a year 365. Raises InvalidExpiration for anything else,
    a zero duration and "off" included."""
    parts = _parts(text.strip())
    if not parts:
        raise InvalidExpiration(text)
    return timedelta(seconds=sum(_FIELD_SECONDS[name] * n for name, n in parts.items()))


def _parts(text: str) -> dict[str, int]:
    """The non-zero components of an ISO duration or a short form; weeks mixed with other
    components become days."""
    # Only ASCII: some non-ASCII letters change case into ASCII ones ("ſ".upper() == "S").
    if not text.isascii():
        raise InvalidExpiration(text)
    short = _SHORT.fullmatch(text.lower())
    if short is not None:
        number = int(short.group(1))
        return {_SHORT_FIELDS[short.group(2)]: number} if number else {}
    return _iso_parts(text)


def _iso_parts(text: str) -> dict[str, int]:
    match = _ISO.fullmatch(text.upper()) if text.isascii() else None
    if match is None:
        raise InvalidExpiration(text)
    numbers = zip(_ISO_FIELDS, match.groups(), strict=True)
    parts = {name: int(value) for name, value in numbers if value and int(value)}
    if "W" in parts and len(parts) > 1:
        # ISO 8601 keeps weeks alone (PnW); hosts on older PHP drop the days beside them.
        parts["D"] = parts.get("D", 0) + 7 * parts.pop("W")
    return parts


def _to_iso(parts: dict[str, int]) -> str:
    def join(names: tuple[str, ...], letters: str) -> str:
        pairs = zip(names, letters, strict=True)
        return "".join(f"{parts[name]}{letter}" for name, letter in pairs if name in parts)

    date = join(("Y", "MO", "W", "D"), "YMWD")
    time = join(("H", "MI", "S"), "HMS")
    return f"P{date}T{time}" if time else f"P{date}"
