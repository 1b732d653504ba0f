"""Minimal HTTP for tests (stdlib, no proxies): read what a registry really serves."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    data: bytes | None = None,
    timeout: float = 30.0,
) -> Response:
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    try:
        with _OPENER.open(req, timeout=timeout) as response:
            return Response(
                response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
            )
    except urllib.error.HTTPError as err:
        return Response(err.code, {k.lower(): v for k, v in err.headers.items()}, err.read())


def get_blob(registry: str, repository: str, digest: str) -> bytes:
    """``GET /v2/<repository>/blobs/<digest>`` on ``registry`` (host:port); asserts 200."""
    response = request("GET", f"http://{registry}/v2/{repository}/blobs/{digest}")
    assert response.status == 200, (
        f"GET blob {digest} from {registry}/{repository}: {response.status} {response.body[:500]!r}"
    )
    return response.body
