"""parse_expiration: what users type, turned into the ISO-8601 duration the host wants."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.chevereto.expiration import (
    EXPIRATION_CHOICES,
    SHORTEST_EXPIRATION,
    parse_expiration,
)
from bot.errors import InvalidExpiration

SHORT_UNITS = {"m": "PT{}M", "min": "PT{}M", "h": "PT{}H", "hr": "PT{}H", "d": "P{}D"}
SHORT_UNITS |= {"w": "P{}W", "mo": "P{}M", "y": "P{}Y"}
ISO_SHAPE = re.compile(r"P(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(\d+H)?(\d+M)?(\d+S)?)?")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5m", "PT5M"),
        ("1h", "PT1H"),
        ("3d", "P3D"),
        ("2w", "P2W"),
        ("1mo", "P1M"),
        ("1y", "P1Y"),
        (" 15 min ", "PT15M"),
        ("PT5M", "PT5M"),
        ("p3d", "P3D"),
        ("pt1h30m", "PT1H30M"),
        ("P1Y2M3DT4H5M6S", "P1Y2M3DT4H5M6S"),
        ("PT05M", "PT5M"),
        ("P0Y1D", "P1D"),
        ("P0Y1W", "P1W"),
    ],
)
def test_known_forms_are_normalised(text: str, expected: str) -> None:
    """Short forms and ISO durations in any case become the canonical ISO string."""
    assert parse_expiration(text) == expected


@pytest.mark.parametrize("text", ["off", "OFF", "none", "0", "", "   "])
def test_off_words_mean_no_expiration(text: str) -> None:
    """off, none, 0 and nothing mean no expiration at all."""
    assert parse_expiration(text) is None


@pytest.mark.parametrize(
    "text",
    ["foo", "0m", "PT0M", "-5m", "-P1D", "P", "PT", "P1DT", "PT5", "P1.5D", "1.5h", "5s", "5 x"],
)
def test_garbage_zero_and_negative_are_refused(text: str) -> None:
    """Garbage, zero, negative and fractional durations raise InvalidExpiration."""
    with pytest.raises(InvalidExpiration):
        parse_expiration(text)


def test_weeks_beside_other_parts_become_days() -> None:
    """P1W2D is sent as P9D: ISO keeps weeks alone and older hosts drop the days beside them."""
    assert parse_expiration("P1W2D") == "P9D"


def test_the_sites_own_list_is_kept_as_is() -> None:
    """Every choice of the site's list parses to itself, shortest first."""
    assert [parse_expiration(choice) for choice in EXPIRATION_CHOICES] == list(EXPIRATION_CHOICES)
    assert EXPIRATION_CHOICES[0] == SHORTEST_EXPIRATION == "PT5M"
    assert len(EXPIRATION_CHOICES) == 23


@given(number=st.integers(1, 999_999), unit=st.sampled_from(sorted(SHORT_UNITS)))
def test_every_short_form_round_trips(number: int, unit: str) -> None:
    """Any positive <n><unit> becomes the ISO duration of the same length."""
    assert parse_expiration(f"{number}{unit}") == SHORT_UNITS[unit].format(number)
    assert parse_expiration(f"{number}{unit.upper()}") == SHORT_UNITS[unit].format(number)


PART = st.one_of(st.none(), st.integers(0, 999_999))


@given(parts=st.tuples(PART, PART, PART, PART, PART, PART, PART), upper=st.booleans())
def test_every_iso_duration_is_accepted_and_normalised(
    parts: tuple[int | None, ...], upper: bool
) -> None:
    """A duration built from random parts is accepted when not zero, and comes back canonical."""
    years, months, weeks, days, hours, minutes, seconds = parts
    date = "".join(f"{n}{u}" for n, u in zip(parts[:4], "YMWD", strict=True) if n is not None)
    time = "".join(f"{n}{u}" for n, u in zip(parts[4:], "HMS", strict=True) if n is not None)
    text = f"P{date}T{time}" if time else f"P{date}"
    text = text if upper else text.lower()
    if not any(parts):
        with pytest.raises(InvalidExpiration):
            parse_expiration(text)
        return
    if weeks and any((years, months, days, hours, minutes, seconds)):
        days, weeks = (days or 0) + 7 * weeks, None
    values = (years, months, weeks, days, hours, minutes, seconds)
    units = ("Y", "M", "W", "D", "H", "M", "S")
    expected_date = "".join(f"{n}{u}" for n, u in zip(values[:4], units[:4], strict=True) if n)
    expected_time = "".join(f"{n}{u}" for n, u in zip(values[4:], units[4:], strict=True) if n)
    expected = f"P{expected_date}T{expected_time}" if expected_time else f"P{expected_date}"
    assert parse_expiration(text) == expected


@given(text=st.text(max_size=30))
def test_random_text_is_refused_or_a_fixed_point(text: str) -> None:
    """Random text raises InvalidExpiration and nothing else; whatever it accepts is canonical."""
    try:
        result = parse_expiration(text)
    except InvalidExpiration:
        return
    if result is not None:
        assert ISO_SHAPE.fullmatch(result)
        assert parse_expiration(result) == result


@given(
    left=st.text(max_size=10),
    bad=st.characters(exclude_categories=("Nd", "L", "Zs", "Cc")),
    right=st.text(max_size=10),
)
def test_text_with_a_foreign_character_is_refused(left: str, bad: str, right: str) -> None:
    """Text holding a character no duration has (punctuation, symbol) raises InvalidExpiration."""
    with pytest.raises(InvalidExpiration):
        parse_expiration(f"1{left}{bad}{right}d")
