"""TLS registries: verified HTTPS with a per-registry CA (docker's certs.d layout), readable
certificate errors, and insecure registries (HTTPS without verification)."""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.certs import write_test_certs
from support.tools import require_binary

pytestmark = pytest.mark.timeout(120)


def _external_ipv4() -> str | None:
    """A non-loopback address of this machine (loopback registries are always plain HTTP)."""
    try:
        out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return None
    for word in out.split():
        try:
            address = ipaddress.ip_address(word)
        except ValueError:
            continue
        if address.version == 4 and not address.is_loopback:
            return word
    return None


@pytest.fixture
def tls_registry(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A distribution registry serving HTTPS on a non-loopback address: (host:port, CA file)."""
    ip = _external_ipv4()
    if ip is None:
        pytest.skip("no non-loopback IPv4 address to serve TLS on")
    binary = require_binary("docker-registry")
    with socket.socket() as s:
        s.bind((ip, 0))
        port = s.getsockname()[1]
    ca, cert, key = write_test_certs(tmp_path, ip)
    config = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(tmp_path / "data")}, "delete": {"enabled": True}},
        "http": {"addr": f"{ip}:{port}", "tls": {"certificate": str(cert), "key": str(key)}},
    }
    (tmp_path / "registry.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    log = open(tmp_path / "registry.log", "wb")  # noqa: SIM115
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")
    }  # it reads REGISTRY_* as config
    process = subprocess.Popen(
        [binary, "serve", str(tmp_path / "registry.yml")], stdout=log, stderr=log, env=env
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if process.poll() is not None:
                break
            with socket.socket() as probe:
                if probe.connect_ex((ip, port)) == 0:
                    break
            time.sleep(0.05)
        if process.poll() is not None or time.monotonic() >= deadline:
            pytest.fail("TLS registry did not start: " + (tmp_path / "registry.log").read_text())
        yield f"{ip}:{port}", ca
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def test_tls_with_certs_d_ca_and_readable_errors(
    cb: Any, tls_registry: tuple[str, Path], make_oci_image: Callable[..., Any], tmp_path: Path
) -> None:
    host, ca = tls_registry
    image = make_oci_image(tmp_path, layers=1)
    ref = f"{host}/tls/app:1"
    cb.run("copy", image.oci_ref, ref, check=True)

    unknown = cb.run("push", ref)
    assert unknown.returncode == 1
    assert unknown.stderr == (
        f'Error: Get "https://{host}/v2/": tls: failed to verify certificate: x509: '
        "certificate signed by unknown authority\n"
    )

    certs = cb.store_root / "certs.d" / host
    certs.mkdir(parents=True)
    (certs / "ca.crt").write_bytes(ca.read_bytes())
    pushed = cb.run("push", ref, check=True)
    assert pushed.stdout.splitlines()[-1] == f"1: digest: {image.digest} size: {len(image.raw)}"
    cb.env["CARGOBAY_HOME"] = str(tmp_path / "other-store")
    (tmp_path / "other-store" / "certs.d" / host).mkdir(parents=True)
    (tmp_path / "other-store" / "certs.d" / host / "ca.crt").write_bytes(ca.read_bytes())
    cb.run("pull", ref, check=True)


def test_insecure_registry_skips_verification(
    cb: Any, tls_registry: tuple[str, Path], make_oci_image: Callable[..., Any], tmp_path: Path
) -> None:
    host, _ = tls_registry
    image = make_oci_image(tmp_path, layers=1)
    cb.env["CARGOBAY_INSECURE_REGISTRIES"] = host
    cb.run("copy", image.oci_ref, f"docker://{host}/tls/insecure:1", check=True)
    cb.run("pull", f"{host}/tls/insecure:1", check=True)
