"""Durations as bot authors write them: in timer declarations and in ``/advance``."""

from __future__ import annotations

from datetime import timedelta

import pytest

from persona.clock import parse_duration


@pytest.mark.parametrize("text, expected", [
    ("3d", timedelta(days=3)), ("3 days", timedelta(days=3)), ("3 day", timedelta(days=3)),
    ("3天", timedelta(days=3)), ("3 天", timedelta(days=3)), ("90m", timedelta(minutes=90)),
    ("90 minutes", timedelta(minutes=90)), ("2小时", timedelta(hours=2)), ("1.5h", timedelta(hours=1.5)),
    ("-3h", timedelta(hours=-3)), ("1w", timedelta(weeks=1)), ("2 weeks", timedelta(weeks=2)),
    ("1周", timedelta(weeks=1)), ("30s", timedelta(seconds=30)), (" 3 Days ", timedelta(days=3)),
])
def test_a_number_and_a_unit_in_english_or_chinese(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text, says", [
    ("soon", "write a number and a unit"), ("3", "write a number and a unit"),
    ("3 fortnights", "unknown unit 'fortnights'"), ("3x", "unknown unit 'x'"), ("", "write a number"),
])
def test_anything_else_is_refused_with_the_units_listed(text, says):
    with pytest.raises(ValueError) as caught:
        parse_duration(text)
    assert says in str(caught.value)
    assert "h/hours/小时" in str(caught.value) and "d/days/天" in str(caught.value)
