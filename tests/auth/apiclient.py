"""A small client of the hub's JSON API and token endpoint for the account tests (stdlib HTTP)."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from support.http import Response, request

PASSWORD = "Passw0rd-long"


def basic(username: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode()}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def unique_name(prefix: str = "u") -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def jwt_header(token: str) -> dict[str, Any]:
    head = token.split(".", 1)[0]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    return decoded


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"<{self.status} {self.body[:300]!r}>"


@dataclass(frozen=True)
class User:
    name: str
    password: str
    email: str
    pat: str = ""  # a personal access token with the "delete" scope, when asked for

    @property
    def creds(self) -> str:
        return f"{self.name}:{self.password}"

    @property
    def pat_creds(self) -> str:
        return f"{self.name}:{self.pat}"

    @property
    def password_auth(self) -> tuple[str, str]:
        return self.name, self.password

    @property
    def auth(self) -> tuple[str, str]:
        """Basic credentials for calls a token may make: the PAT when there is one (checking a
        password costs an argon2 hash, which adds up on a loaded test machine)."""
        return (self.name, self.pat) if self.pat else (self.name, self.password)


class Api:
    def __init__(self, address: str) -> None:
        self.address = address  # 127.0.0.1:PORT

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        auth: tuple[str, str] | None = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> Reply:
        sent = dict(headers or {})
        if auth is not None:
            sent.update(basic(*auth))
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        response: Response = request(method, f"http://{self.address}{path}", headers=sent, data=data)
        return Reply(response.status, response.headers, response.body)

    def sign_up(
        self, name: str | None = None, password: str = PASSWORD, *, pat: bool = False, **extra: Any
    ) -> User:
        """A new account; with ``pat``, also a "delete"-scope access token for cheap calls."""
        name = name or unique_name()
        email = f"{name}@example.test"
        body = {"username": name, "email": email, "password": password, **extra}
        reply = self.call("POST", "/api/users", body)
        assert reply.status == 201, reply
        user = User(name, password, email)
        if pat:
            user = User(name, password, email, self.create_pat(user, "delete", label="tests")["token"])
        return user

    def token(
        self, *scopes: str, auth: tuple[str, str] | None = None, params: dict[str, str] | None = None
    ) -> Reply:
        query = urlencode([("service", "cargobay"), *(("scope", s) for s in scopes), *(params or {}).items()])
        return self.call("GET", f"/token?{query}", auth=auth)

    def granted(self, scope: str, auth: tuple[str, str] | None = None) -> str:
        """The scope string the token endpoint grants for one requested scope."""
        reply = self.token(scope, auth=auth)
        assert reply.status == 200, reply
        granted: str = reply.json()["scope"]
        return granted

    def catalog(self, auth: tuple[str, str]) -> list[str]:
        token = self.token("registry:catalog:*", auth=auth).json()["token"]
        reply = self.call("GET", "/v2/_catalog?n=1000", headers=bearer(token))
        assert reply.status == 200, reply
        found: list[str] = reply.json()["repositories"]
        return found

    def create_pat(self, user: User, scope: str, label: str = "ci") -> dict[str, Any]:
        reply = self.call(
            "POST",
            "/api/access-tokens",
            {"token_label": label, "scope": scope},
            auth=user.password_auth,
        )
        assert reply.status == 201, reply
        created: dict[str, Any] = reply.json()
        return created
