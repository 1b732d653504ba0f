"""Stopping the hub: SIGTERM at any moment of start-up, to the whole process group (as a service
manager or a terminal's Ctrl-C does), stops the parent and every worker, none left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support.servers import free_port


@pytest.mark.parametrize("delay", [0.05, 0.3, 0.6, 0.9, 1.3, 2.5])
def test_sigterm_during_start_up_stops_every_process(tmp_path: Path, delay: float) -> None:
    hub = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cargobay",
            "serve",
            "--data-dir",
            str(tmp_path),
            "--listen",
            f"127.0.0.1:{free_port()}",
            "--workers",
            "3",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    time.sleep(delay)
    os.killpg(hub.pid, signal.SIGTERM)
    try:
        hub.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(hub.pid, signal.SIGKILL)
        hub.wait()
        pytest.fail(f"the hub did not stop within 20 s of SIGTERM sent {delay} s after its start")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(hub.pid, 0)  # any process of the group still alive?
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.killpg(hub.pid, signal.SIGKILL)
    pytest.fail("a worker outlived the hub's parent process")
