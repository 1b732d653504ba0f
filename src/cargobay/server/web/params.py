"""Numbers from the query string (`?page=`, `?min_stars=`): a bad one is told on the page, never
a 400, so each parser answers None rather than raising."""

from __future__ import annotations

MAX_PAGE = 10_000


def whole_number(value: str | None, default: int, low: int, high: int) -> int | None:
    """`value` as an int in [low, high]; `default` when absent or empty; None when not one."""
    if value is None or value == "":
        return default
    if not value.isascii() or not value.isdigit():
        return None
    number = int(value)
    return number if low <= number <= high else None


def page_number(value: str | None) -> int | None:
    """`?page=` from 1 to MAX_PAGE; 1 when absent; None when it is not such a number."""
    return whole_number(value, 1, 1, MAX_PAGE)
