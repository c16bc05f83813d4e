"""App-command descriptions, options and choices, in English and Simplified Chinese.

Every label is a catalog key (the core's ``command.*`` and ``on``/``off``, the
adapter's ``discord.*`` from ``texts.py``), so both languages are checked where
the sentences live; this module only turns them into Discord's locale strings.
"""

from __future__ import annotations

import re

from discord import Locale, app_commands

from adapters.discord.texts import EN
from bot.chevereto.expiration import EXPIRATION_CHOICES
from bot.domain import EmbedForm
from bot.texts import CATALOGS, Language, language_of

_ISO_UNIT = re.compile(r"P(T?)([0-9]+)([MHDWY])")
_UNITS = {("T", "M"): "minute", ("T", "H"): "hour", ("", "D"): "day", ("", "W"): "week"}
_UNITS |= {("", "M"): "month", ("", "Y"): "year"}


def _template(language: Language, key: str) -> str | None:
    return CATALOGS[language].get(key)


def label(key: str, **params: object) -> app_commands.locale_str:
    """The English label, carrying its key and parameters for the translator."""
    template = _template("en", key)
    if template is None:
        raise KeyError(key)
    return app_commands.locale_str(template.format(**params), key=key, params=params)


def duration_label(iso: str) -> app_commands.locale_str:
    """``P3D`` → "3 days" / "3 天": one of the host's expirations, as a choice name."""
    match = _ISO_UNIT.fullmatch(iso)
    if match is None:
        raise ValueError(iso)
    time_part, number, letter = match.groups()
    key = f"discord.duration.{_UNITS[(time_part, letter)]}"
    n = int(number)
    return label(f"{key}.one" if n == 1 and f"{key}.one" in EN else key, n=n)


def expiration_choices() -> list[app_commands.Choice[str]]:
    """The host's own expirations, shortest first; the value is the ISO-8601 duration."""
    return [app_commands.Choice(name=duration_label(iso), value=iso) for iso in EXPIRATION_CHOICES]


def form_choices() -> list[app_commands.Choice[str]]:
    """Each ``/format`` form, named as the help text names it."""
    return [app_commands.Choice(name=label(f"format.{form}"), value=form) for form in EmbedForm]


def switch_choices() -> list[app_commands.Choice[str]]:
    return [app_commands.Choice(name=label(word), value=word) for word in ("on", "off")]


class Labels(app_commands.Translator):
    """Gives Discord the Chinese label of every string made by :func:`label`."""

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        key = string.extras.get("key")
        if key is None or language_of(locale.value) != "zh":
            return None
        template = _template("zh", key)
        return None if template is None else template.format(**string.extras.get("params", {}))
