"""Progress rendering (docker's jsonmessage rules) and the CLI's light import tree."""

from __future__ import annotations

import io
import subprocess
import sys

from cargobay.api import Message
from cargobay.cli.progress import Renderer, human_size, progress_text


def test_non_tty_drops_byte_counts() -> None:
    out = io.StringIO()
    render = Renderer(out, tty=False)
    render(Message("Pulling from library/x", "latest"))
    render(Message("Pulling fs layer", "abc"))
    render(Message("Downloading", "abc", 100, 1000))
    render(Message("Download complete", "abc"))
    render(Message("Digest: sha256:00"))
    assert out.getvalue() == (
        "latest: Pulling from library/x\nabc: Pulling fs layer\nabc: Download complete\nDigest: sha256:00\n"
    )


def test_tty_rewrites_layer_lines_in_place() -> None:
    out = io.StringIO()
    render = Renderer(out, tty=True)
    render(Message("Pulling fs layer", "aaa"))
    render(Message("Pulling fs layer", "bbb"))
    render(Message("Downloading", "aaa", 500, 1000))
    text = out.getvalue()
    assert text.startswith("aaa: Pulling fs layer\nbbb: Pulling fs layer\n")
    rewrite = text[len("aaa: Pulling fs layer\nbbb: Pulling fs layer\n") :]
    assert rewrite.startswith("\x1b[2A\r\x1b[2Kaaa: Downloading ")
    assert "500B/1kB" in rewrite and rewrite.endswith("\x1b[2B\r")


def test_sizes_and_bars() -> None:
    assert human_size(0) == "0B"
    assert human_size(999) == "999B"
    assert human_size(12_345_678) == "12.35MB"
    assert human_size(45_600_000) == "45.6MB"
    wide = progress_text(50, 100, 120)
    assert wide.startswith("[" + "=" * 25 + ">" + " " * 25 + "] ")
    assert progress_text(50, 100, 80) == "     50B/100B"


def test_cli_modules_do_not_import_aiohttp() -> None:
    code = (
        "import sys, cargobay.cli.main as m, cargobay.cli.pull, cargobay.cli.push, cargobay.cli.copy, "
        "cargobay.cli.progress, cargobay.transports; "
        "bad = [n for n in ('aiohttp', 'cargobay.distclient.client', 'rich') if n in sys.modules]; "
        "print(bad)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
