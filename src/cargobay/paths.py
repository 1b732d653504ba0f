"""Where the client keeps its things: `$CARGOBAY_HOME`, else `$XDG_DATA_HOME/cargobay`."""

from __future__ import annotations

import os
from pathlib import Path


def cargobay_home() -> Path:
    explicit = os.environ.get("CARGOBAY_HOME")
    if explicit:
        return Path(explicit)
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "cargobay"
