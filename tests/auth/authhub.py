"""Helpers for tests against a hub with token auth: accounts made through the hub's own
services, tokens from its /token endpoint, pushes over the registry API."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlencode

from support.http import Response, request
from support.hubdata import run_with_hub
from support.pushing import Pushed, basic_auth, digest_of, push_image
from support.servers import Hub

PASSWORD = "Sup3r-secret"


def basic(user: str, password: str = PASSWORD) -> dict[str, str]:
    return basic_auth(user, password)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def add_user(hub: Hub, name: str, *, admin: bool = False, password: str = PASSWORD) -> None:
    run_with_hub(hub, lambda h: h.accounts.sign_up(name, f"{name}@example.com", password, is_admin=admin))


def set_private(hub: Hub, repository: str, private: bool = True) -> None:
    assert run_with_hub(hub, lambda h: h.metadata.set_repository_private(repository, private))


def get_token(
    hub: Hub, *scopes: str, user: str | None = None, password: str = PASSWORD, **params: str
) -> Response:
    params = {"service": "cargobay", **params}
    query = urlencode([*params.items(), *(("scope", s) for s in scopes)])
    headers = basic(user, password) if user else {}
    return request("GET", f"{hub.base_url}/token?{query}", headers=headers)


def token_for(hub: Hub, *scopes: str, user: str | None = None, password: str = PASSWORD) -> str:
    answer = get_token(hub, *scopes, user=user, password=password)
    assert answer.status == 200, answer.body
    token: str = json.loads(answer.body)["token"]
    return token


def granted(token: str) -> list[dict[str, Any]]:
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    access: list[dict[str, Any]] = claims["access"]
    return access


__all__ = ["Pushed", "digest_of", "push_image"]
