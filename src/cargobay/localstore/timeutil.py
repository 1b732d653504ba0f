"""RFC 3339 timestamps as image configs carry them, kept to the nanosecond like Go's time.Time."""

from __future__ import annotations

import calendar
import re
import time
from dataclasses import dataclass

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9})\d*)?(?:([Zz])|([+-])(\d{2}):?(\d{2}))$"
)


@dataclass(frozen=True, slots=True)
class Timestamp:
    """A point in time: whole Unix seconds, nanoseconds, and the UTC offset it was written with."""

    seconds: int
    nanos: int = 0
    offset: int = 0  # seconds east of UTC

    @property
    def unix(self) -> float:
        return self.seconds + self.nanos / 1e9

    def rfc3339nano(self) -> str:
        """Go's `time.RFC3339Nano`: fractional seconds without trailing zeros, `Z` for UTC."""
        local = time.gmtime(self.seconds + self.offset)
        text = time.strftime("%Y-%m-%dT%H:%M:%S", local)
        if self.nanos:
            text += "." + f"{self.nanos:09d}".rstrip("0")
        return text + _offset_text(self.offset)

    def rfc3339(self) -> str:
        local = time.gmtime(self.seconds + self.offset)
        return time.strftime("%Y-%m-%dT%H:%M:%S", local) + _offset_text(self.offset)


def _offset_text(offset: int) -> str:
    if offset == 0:
        return "Z"
    sign = "+" if offset > 0 else "-"
    minutes = abs(offset) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def parse_rfc3339(text: str) -> Timestamp | None:
    """Parse `2023-11-14T22:13:20.5Z` or `...+01:00`; None when it is not such a timestamp."""
    match = _RFC3339.match(text.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 61):
        return None
    frac = match.group(7) or ""
    nanos = int(frac.ljust(9, "0")) if frac else 0
    offset = 0
    if match.group(9):
        offset = (int(match.group(10)) * 60 + int(match.group(11))) * 60
        if match.group(9) == "-":
            offset = -offset
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)) - offset
    return Timestamp(seconds, nanos, offset)


def now_timestamp() -> Timestamp:
    ns = time.time_ns()
    return Timestamp(ns // 1_000_000_000, ns % 1_000_000_000, 0)
