"""`cargobay serve` settings: YAML, env and flags, validated at start-up with one line per mistake."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cargobay.config import ConfigError, load_settings


def run_serve(
    *args: str, env: dict[str, str] | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cargobay", "serve", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def test_precedence_defaults_file_env_flags(tmp_path: Path) -> None:
    config = tmp_path / "hub.yaml"
    config.write_text("listen: 127.0.0.1:6001\nworkers: 3\ndelete_enabled: false\n")
    settings = load_settings(config, {}, environ={})
    assert (settings.listen, settings.workers, settings.delete_enabled) == ("127.0.0.1:6001", 3, False)
    settings = load_settings(config, {}, environ={"CARGOBAY_WORKERS": "5"})
    assert settings.workers == 5
    settings = load_settings(config, {"workers": 7}, environ={"CARGOBAY_WORKERS": "5"})
    assert settings.workers == 7
    assert settings.effective_database_url == f"sqlite:///{settings.data_dir / 'hub.db'}"


def test_every_mistake_gets_its_own_line(tmp_path: Path) -> None:
    config = tmp_path / "hub.yaml"
    config.write_text("listen: nowhere\nworkers: 0\ncolour: blue\n")
    with pytest.raises(ConfigError) as info:
        load_settings(config, {}, environ={"CARGOBAY_LOG_LEVEL": "loud"})
    text = "\n".join(info.value.lines)
    assert len(info.value.lines) == 4
    assert "listen: Value error, expected HOST:PORT, got 'nowhere'" in text
    assert "workers: Input should be greater than or equal to 1" in text
    assert "colour: unknown setting" in text
    assert "log_level:" in text


def test_serve_reports_bad_settings_without_traceback(tmp_path: Path) -> None:
    config = tmp_path / "hub.yaml"
    config.write_text("workers: -1\n")
    result = run_serve("--config", str(config), "--data-dir", str(tmp_path / "data"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "Error: workers: Input should be greater than or equal to 1"
    ]


def test_serve_reports_unreadable_and_invalid_yaml(tmp_path: Path) -> None:
    result = run_serve("--config", str(tmp_path / "missing.yaml"))
    assert result.returncode == 2 and "No such file or directory" in result.stderr
    assert "Traceback" not in result.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("listen: [unclosed\n")
    result = run_serve("--config", str(bad))
    assert result.returncode == 2 and "not valid YAML" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_serve_rejects_unknown_database(tmp_path: Path) -> None:
    result = run_serve("--data-dir", str(tmp_path), env={"CARGOBAY_DATABASE_URL": "mysql://x@y/z"})
    assert result.returncode == 2
    assert (
        result.stderr.strip() == "Error: unsupported database 'mysql': use sqlite:///PATH or postgresql://…"
    )


def test_serve_reports_a_taken_port(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = run_serve("--listen", f"127.0.0.1:{port}", "--data-dir", str(tmp_path))
    assert result.returncode == 1
    assert (
        result.stderr.strip().splitlines()[-1]
        == f"Error: cannot serve on 127.0.0.1:{port}: Address already in use"
    )


def test_a_second_hub_cannot_share_the_port(start_hub: Callable[..., Any], tmp_path: Path) -> None:
    first = start_hub()
    result = run_serve("--listen", first.url, "--data-dir", str(tmp_path / "second"))
    assert result.returncode == 1
    assert "Address already in use" in result.stderr


def test_page_caps_apply_without_n(start_hub: Callable[..., Any]) -> None:
    hub = start_hub(config={"tags_page_max": 3}, workers=1)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.empty.v1+json",
                "digest": "sha256:" + "4" * 64,
                "size": 2,
            },
            "layers": [],
        }
    ).encode()
    empty = b"{}"
    digest = "sha256:" + hashlib.sha256(empty).hexdigest()
    manifest = manifest.replace(b"sha256:" + b"4" * 64, digest.encode())
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    opener.open(
        urllib.request.Request(
            f"{hub.base_url}/v2/a/b/blobs/uploads/?digest={digest}", data=empty, method="POST"
        )
    )
    for tag in ("t1", "t2", "t3", "t4", "t5"):
        opener.open(
            urllib.request.Request(
                f"{hub.base_url}/v2/a/b/manifests/{tag}",
                data=manifest,
                method="PUT",
                headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
            )
        )
    with opener.open(f"{hub.base_url}/v2/a/b/tags/list") as answer:
        assert json.loads(answer.read())["tags"] == ["t1", "t2", "t3"]
        assert answer.headers["Link"] == '</v2/a/b/tags/list?n=3&last=t3>; rel="next"'
