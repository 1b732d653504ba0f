"""Jinja filters: sizes, "3 days ago", digests, the way Docker Hub shows them."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any


def human_size(size: int | None) -> str:
    if size is None:
        return "—"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.2f} {unit}".replace(".00 ", " ")
        value /= 1000
    raise AssertionError("unreachable")


def time_ago(when: float | datetime | None, now: float | None = None) -> str:
    if when is None:
        return "never"
    moment = when.timestamp() if isinstance(when, datetime) else float(when)
    seconds = max(0, int((time.time() if now is None else now) - moment))
    for size, unit in (
        (365 * 86400, "year"),
        (30 * 86400, "month"),
        (86400, "day"),
        (3600, "hour"),
        (60, "minute"),
    ):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "less than a minute ago"


def iso_time(when: float | datetime | None) -> str:
    if when is None:
        return ""
    moment = when if isinstance(when, datetime) else datetime.fromtimestamp(float(when), UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def short_digest(digest: str | None) -> str:
    if not digest:
        return ""
    algorithm, _, hexpart = digest.partition(":")
    return f"{algorithm}:{hexpart[:12]}"


def count(value: int) -> str:
    """Docker Hub's compact counts: 999, 1.2K, 3.4M."""
    for limit, suffix in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "K")):
        if value >= limit:
            return f"{value / limit:.1f}".removesuffix(".0") + suffix
    return str(value)


FILTERS: dict[str, Callable[..., Any]] = {
    "human_size": human_size,
    "time_ago": time_ago,
    "iso_time": iso_time,
    "short_digest": short_digest,
    "count": count,
}
