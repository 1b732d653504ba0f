"""Concurrent transfers share one token per scope: a password-backed token request costs the
registry a password hash check, so a 12-layer push must not ask for a dozen tokens."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from support.http import request
from support.images import OciImage
from support.servers import Hub

PASSWORD = "Sup3r-secret"


def test_push_and_pull_ask_for_one_token_per_scope(
    start_hub: Callable[..., Hub], make_oci_image: Callable[..., OciImage], tmp_path: Path, cb: Any
) -> None:
    hub = start_hub(env={"CARGOBAY_AUTH": "token", "CARGOBAY_ACCESS_LOG": "true"}, workers=1)
    body = {"username": "tokenuser", "email": "tokenuser@example.com", "password": PASSWORD}
    created = request(
        "POST",
        f"{hub.base_url}/api/users",
        headers={"Content-Type": "application/json"},
        data=json.dumps(body).encode(),
    )
    assert created.status == 201, created.body
    login = subprocess.run(
        [sys.executable, "-m", "cargobay", "login", hub.url, "-u", "tokenuser", "--password-stdin"],
        env=cb.env,
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert login.returncode == 0, login.stderr
    image = make_oci_image(tmp_path, layers=12, layer_size=2048)
    before = len(re.findall(r'"(?:GET|POST) /token', hub.log_path.read_text()))
    pushed = cb.run("copy", image.oci_ref, f"docker://{hub.url}/tokenuser/many:v1")
    assert pushed.returncode == 0, pushed.stderr
    pulled = cb.run("pull", f"{hub.url}/tokenuser/many:v1")
    assert pulled.returncode == 0, pulled.stderr
    token_requests = len(re.findall(r'"(?:GET|POST) /token', hub.log_path.read_text())) - before
    assert 1 <= token_requests <= 3, token_requests  # one for the push scope, one for the pull
