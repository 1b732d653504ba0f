"""Per-address login limits behind a reverse proxy: X-Forwarded-For counts only when the peer
is a trusted proxy (`trusted_proxies`), so clients behind one proxy do not share one limit, and
clients talking to the hub directly cannot dodge the limit with a forged header."""

from __future__ import annotations

from pathlib import Path

from support.http import request
from support.pushing import basic_auth
from support.servers import Hub, start_hub

ADDRESS_LIMIT = 20  # AccountService.max_failures_per_address


def _wrong_login(hub: Hub, number: int, forwarded: str) -> int:
    """A wrong password for a different (missing) account each time: only the address limit counts."""
    answer = request(
        "GET",
        f"{hub.base_url}/token?service=cargobay",
        headers={**basic_auth(f"nobody{number:03}", "Wrong-passw0rd"), "X-Forwarded-For": forwarded},
    )
    return answer.status


def test_forwarded_addresses_count_behind_a_trusted_proxy(tmp_path: Path) -> None:
    hub = start_hub(
        tmp_path, workers=1, env={"CARGOBAY_AUTH": "token", "CARGOBAY_TRUSTED_PROXIES": "127.0.0.0/8, ::1"}
    )
    try:
        statuses = [_wrong_login(hub, n, "198.51.100.7") for n in range(ADDRESS_LIMIT + 1)]
        assert statuses == [401] * ADDRESS_LIMIT + [429]
        # Another client behind the same proxy is not locked out ...
        assert _wrong_login(hub, 500, "198.51.100.8") == 401
        # ... and the proxy's own hop is skipped: what the client claimed to the left is not believed.
        assert _wrong_login(hub, 501, "203.0.113.1, 198.51.100.7") == 429
        assert _wrong_login(hub, 502, "198.51.100.7, 127.0.0.1") == 429
    finally:
        hub.close()


def test_forwarded_addresses_are_ignored_without_trusted_proxies(tmp_path: Path) -> None:
    hub = start_hub(tmp_path, workers=1, env={"CARGOBAY_AUTH": "token"})
    try:
        statuses = [_wrong_login(hub, n, f"198.51.100.{n}") for n in range(ADDRESS_LIMIT + 1)]
        assert statuses == [401] * ADDRESS_LIMIT + [429]
    finally:
        hub.close()


def test_a_wrong_trusted_proxy_setting_stops_the_hub_with_a_clear_error(tmp_path: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "cargobay", "serve", "--data-dir", str(tmp_path)],
        env={"CARGOBAY_TRUSTED_PROXIES": "10.0.0.0/8, not-an-address", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert (
        "trusted_proxies" in done.stderr and "not an IP address or network: 'not-an-address'" in done.stderr
    )
    assert "Traceback" not in done.stderr
