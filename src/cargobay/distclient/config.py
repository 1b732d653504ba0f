"""Where registries live: endpoints, plain-HTTP (insecure) hosts and Docker Hub mirrors."""

from __future__ import annotations

import ipaddress
import json
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

from cargobay.paths import cargobay_home

DOCKER_HUB_DOMAIN = "docker.io"
DOCKER_HUB_REGISTRY = "https://registry-1.docker.io"
DOCKER_HUB_INDEX_SERVER = "https://index.docker.io/v1/"


def split_host_port(domain: str) -> tuple[str, str | None]:
    """`[::1]:5000` → (`::1`, `5000`); `example.com` → (`example.com`, None)."""
    if domain.startswith("["):
        host, _, rest = domain[1:].partition("]")
        return host, rest[1:] if rest.startswith(":") else None
    host, sep, port = domain.rpartition(":")
    if sep and port.isdigit() and ":" not in host:
        return host, port
    return domain, None


def join_host_port(host: str, port: int | str | None) -> str:
    """(`::1`, 5000) → `[::1]:5000`; (`example.com`, None) → `example.com`."""
    bracketed = f"[{host}]" if ":" in host else host
    return bracketed if port is None else f"{bracketed}:{port}"


def is_loopback(domain: str) -> bool:
    return is_loopback_host(split_host_port(domain)[0])


def is_loopback_host(host: str) -> bool:
    """`localhost`, or an address in 127.0.0.0/8 or ::1 (a host without brackets or port)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# The variables that name a proxy (`NO_PROXY` only makes exceptions).
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")


def proxy_configured(environ: Mapping[str, str] = os.environ) -> bool:
    """Cheap: does the environment name a proxy (so that proxy settings are worth reading)?"""
    return any(environ.get(name) for name in PROXY_VARIABLES)


def _validate_mirror(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        raise ValueError(f"invalid mirror: {url!r} must be http(s)://host[:port][/]")
    if parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError(f"invalid mirror: {url!r} must not carry a path, query or userinfo")
    return f"{parts.scheme}://{parts.netloc}"


def _split_list(text: str | None) -> list[str]:
    return [item.strip() for item in (text or "").split(",") if item.strip()]


@dataclass(frozen=True)
class ClientConfig:
    """Client-side registry settings (from `$CARGOBAY_HOME/config.json` and `CARGOBAY_*`)."""

    insecure_registries: tuple[str, ...] = ()
    registry_mirrors: tuple[str, ...] = ()
    user_agent: str = "cargobay"
    # Layers transferred at once. Docker's defaults are 3 and 5; skopeo copies up to 6 at a time,
    # which helps images of many small layers most (request and sync latencies overlap).
    max_concurrent_downloads: int = 6
    max_concurrent_uploads: int = 6
    extra: dict[str, object] = field(default_factory=dict)

    @classmethod
    def load(cls) -> ClientConfig:
        doc: dict[str, object] = {}
        path = cargobay_home() / "config.json"
        try:
            loaded = json.loads(path.read_text())
            if isinstance(loaded, dict):
                doc = loaded
        except (OSError, ValueError):
            pass

        def as_list(key: str) -> list[str]:
            value = doc.get(key)
            return [str(v) for v in value] if isinstance(value, list) else []

        insecure = as_list("insecure-registries") + _split_list(
            os.environ.get("CARGOBAY_INSECURE_REGISTRIES")
        )
        env_mirrors = _split_list(os.environ.get("CARGOBAY_REGISTRY_MIRRORS"))
        mirrors = [_validate_mirror(m) for m in (env_mirrors or as_list("registry-mirrors"))]
        from cargobay import __version__

        return cls(
            insecure_registries=tuple(insecure),
            registry_mirrors=tuple(mirrors),
            user_agent=f"cargobay/{__version__}",
            max_concurrent_downloads=_int(doc.get("max-concurrent-downloads"), 6),
            max_concurrent_uploads=_int(doc.get("max-concurrent-uploads"), 6),
        )

    def is_insecure(self, domain: str) -> bool:
        """Plain HTTP: loopback always (as docker), plus configured hosts or CIDRs."""
        if is_loopback(domain):
            return True
        host, _ = split_host_port(domain)
        for entry in self.insecure_registries:
            entry = entry.strip().removeprefix("http://").removeprefix("https://").rstrip("/")
            if entry in (domain, host):
                return True
            if "/" in entry:
                try:
                    if ipaddress.ip_address(host) in ipaddress.ip_network(entry, strict=False):
                        return True
                except ValueError:
                    continue
        return False

    def endpoints(self, domain: str, *, for_push: bool = False) -> list[Endpoint]:
        """Base URLs to try in order.

        docker.io: the mirrors (pulls only, never sent credentials), then registry-1.docker.io.
        Loopback: plain HTTP. Configured insecure registries: HTTPS without certificate
        verification, then plain HTTP (docker's order). Everything else: verified HTTPS.
        """
        if domain == DOCKER_HUB_DOMAIN:
            out = [] if for_push else [Endpoint(m, mirror=True) for m in self.registry_mirrors]
            return [*out, Endpoint(DOCKER_HUB_REGISTRY)]
        if is_loopback(domain):
            return [Endpoint(f"http://{domain}")]
        if self.is_insecure(domain):
            return [Endpoint(f"https://{domain}", verify=False), Endpoint(f"http://{domain}")]
        return [Endpoint(f"https://{domain}")]


class Endpoint(NamedTuple):
    base: str
    mirror: bool = False
    verify: bool = True


def certs_dirs() -> list[Path]:
    """Where per-registry TLS files live, docker's layout: `<dir>/<host[:port]>/{*.crt,*.cert,*.key}`."""
    explicit = os.environ.get("CARGOBAY_CERTS_DIR")
    if explicit:
        return [Path(explicit)]
    return [cargobay_home() / "certs.d", Path("/etc/docker/certs.d"), Path("/etc/containers/certs.d")]


_SSL_CACHE: dict[str, ssl.SSLContext] = {}


def ssl_context(domain: str) -> ssl.SSLContext:
    """System CAs plus the registry's own `*.crt` CAs and `client.cert`/`client.key` pair, if any."""
    dirs = [d / domain for d in certs_dirs() if (d / domain).is_dir()]
    key = "|".join(str(d) for d in dirs)
    cached = _SSL_CACHE.get(key)
    if cached is not None:
        return cached
    context = ssl.create_default_context()
    for directory in dirs:
        for path in sorted(directory.iterdir()):
            if path.suffix == ".crt":
                context.load_verify_locations(cafile=str(path))
            elif path.suffix == ".cert":
                keyfile = path.with_suffix(".key")
                if keyfile.exists():
                    context.load_cert_chain(str(path), str(keyfile))
    _SSL_CACHE[key] = context
    return context


def _int(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default
