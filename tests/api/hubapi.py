"""Helpers of the hub API tests: pushes over the registry API with an account's credentials,
and reading pages of the JSON API."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from apiclient import Api, Reply, User, bearer
from authhub import Pushed, push_image

from support.http import request
from support.servers import Hub


def registry_headers(api: Api, user: User, repository: str, actions: str = "pull,push") -> dict[str, str]:
    reply = api.token(f"repository:{repository}:{actions}", auth=user.auth)
    assert reply.status == 200, reply
    return bearer(reply.json()["token"])


def push(api: Api, hub: Hub, user: User, repository: str, tag: str = "v1", seed: bytes = b"x") -> Pushed:
    """A one-layer image (config: linux/amd64) pushed as `repository:tag`."""
    return push_image(hub, repository, registry_headers(api, user, repository), tag=tag, seed=seed)


def pull_manifest(hub: Hub, headers: dict[str, str], repository: str, reference: str) -> int:
    accept = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"
    answer = request(
        "GET", f"{hub.base_url}/v2/{repository}/manifests/{reference}", headers={**headers, "Accept": accept}
    )
    return answer.status


def ok(reply: Reply, status: int = 200) -> Any:
    assert reply.status == status, reply
    return reply.json() if reply.body else None


def follow(api: Api, link: str, auth: tuple[str, str] | None = None) -> Reply:
    """GET an absolute `next`/`previous` link (it must point at the hub itself)."""
    parts = urlsplit(link)
    assert parts.scheme == "http" and parts.netloc == api.address, link
    return api.call("GET", f"{parts.path}?{parts.query}", auth=auth)


def query_of(link: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(link).query))


def names(page: dict[str, Any]) -> list[str]:
    return [item["name"] for item in page["results"]]


def eventually(check: Any, timeout: float = 5.0) -> Any:
    """Retry `check` (which returns a truthy value when done) until it passes or time is up."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def error(reply: Reply) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(reply.body)
    assert set(body) <= {"message", "field"}, body
    return body
