"""The platforms this installation knows: the ``chevereto_bot.platforms`` entry points.

Each entry point names a ``PlatformSettings`` class (``pyproject.toml`` lists the
project's own). Adding a platform is one new package under ``adapters/`` and one
line there; ``python -m bot`` starts every one whose settings enable it.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from bot.platform import PlatformSettings

GROUP = "chevereto_bot.platforms"


def installed() -> list[type[PlatformSettings]]:
    """The settings class of every installed platform, in the order of their names."""
    found = sorted(entry_points(group=GROUP), key=lambda point: point.name)
    classes: list[type[PlatformSettings]] = []
    for point in found:
        loaded = point.load()
        if not (isinstance(loaded, type) and issubclass(loaded, PlatformSettings)):
            raise TypeError(f"entry point {point.name} of {GROUP} is not a PlatformSettings class")
        classes.append(loaded)
    return classes
