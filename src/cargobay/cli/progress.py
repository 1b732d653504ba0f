"""Docker's progress rendering (client/pkg/jsonmessage): live per-layer lines on a terminal,
status-change lines only (nothing with byte counts) when stdout is not a terminal."""

from __future__ import annotations

import shutil
import sys
import time
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from cargobay.api import Message

_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")


def human_size(size: float) -> str:
    """docker/go-units HumanSize: decimal units, 4 significant digits (`12.35MB`)."""
    i = 0
    while size >= 1000.0 and i < len(_UNITS) - 1:
        size /= 1000.0
        i += 1
    return f"{size:.4g}{_UNITS[i]}"


def progress_text(current: int, total: int, width: int, started: float | None = None) -> str:
    if current <= 0 and total <= 0:
        return ""
    if total <= 0:
        return f"{human_size(current):>8}"
    bars = min(50, int(current / total * 100) // 2)
    box = ""
    if width > 110:
        box = f"[{'=' * bars}>{' ' * (50 - bars)}] "
    numbers = f"{human_size(current):>8}/{human_size(total)}" if current <= total else ""
    eta = ""
    if started is not None and width > 50 and bars < 50 and current > 0:
        elapsed = time.monotonic() - started
        left = int(elapsed / current * (total - current))
        eta = f" {left}s" if left < 60 else f" {left // 60}m{left % 60}s"
    return box + numbers + eta


class Renderer:
    """Call with each `Message`; `close()` at the end."""

    def __init__(self, out: TextIO | None = None, *, tty: bool | None = None) -> None:
        self.out = out or sys.stdout
        self.tty = self.out.isatty() if tty is None else tty
        self.lines: dict[str, int] = {}
        self.count = 0
        self.started: dict[str, float] = {}
        self.last_drawn: dict[str, float] = {}
        self.interval = 0.1

    def _line(self, message: Message) -> str:
        prefix = f"{message.id}: " if message.id else ""
        if not message.has_progress:
            return prefix + message.status
        width = shutil.get_terminal_size((80, 24)).columns
        start = self.started.setdefault(message.id or "", time.monotonic())
        return f"{prefix}{message.status} {progress_text(message.current, message.total, width, start)}"

    def __call__(self, message: Message) -> None:
        if not self.tty:
            if message.has_progress:
                return
            self.out.write(self._line(message) + "\n")
            self.out.flush()
            return
        if message.has_progress and message.id is not None and message.current < message.total:
            now = time.monotonic()
            if now - self.last_drawn.get(message.id, 0.0) < self.interval:
                return  # redraw a progress line at most every `interval` seconds
            self.last_drawn[message.id] = now
        line = self._line(message)
        if message.id is None:
            self.out.write(line + "\n")
            self.count += 1
        elif message.id not in self.lines:
            self.lines[message.id] = self.count
            self.out.write(line + "\n")
            self.count += 1
        else:
            diff = self.count - self.lines[message.id]
            self.out.write(f"\x1b[{diff}A\r\x1b[2K{line}\x1b[{diff}B\r")
        self.out.flush()

    def close(self) -> None:
        self.out.flush()
