"""The first round trips of a command, on a thread, while the rest of the client is imported.

Every `cargobay pull`/`push` starts with `GET /v2/` and, on a registry with token auth, a token
request: for a password, the registry checks a password hash (0.2 s of its CPU on the hub). Both
only need the standard library, so `start()` sends them from a thread at once while the main
thread imports the rest of the client and opens the local store, and `RegistryClient.adopt()`
takes the answers (`take()`), so nothing is asked twice.

Only for a registry reached over plain HTTP (loopback or configured insecure-HTTP hosts with a
single endpoint) whose token realm is plain HTTP too; anything else, any failure, redirect or
unexpected answer leaves `take()` with nothing, and the client does the same requests itself as
before (with its own error reporting). The requests are the client's own: same URL, parameters,
credentials and headers (`cargobay.distclient.client.RegistryClient._fetch_token`).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from cargobay.distclient.auth import (
    Challenge,
    merge_scopes,
    pick_challenge,
    refresh_token_form,
    repository_scope,
    token_request,
)
from cargobay.distclient.config import ClientConfig, proxy_configured
from cargobay.distclient.credentials import Credentials

TIMEOUT = 30.0
FRESH_FOR = 30.0  # seconds: answers not taken by then are dropped (a long-lived process moved on)
_MAX_RESPONSE = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Prefetched:
    base: str  # the endpoint that answered GET /v2/
    challenge: Challenge | None  # from its 401, None when it answered 200
    credentials: Credentials | None  # what the lookup found for the registry, if it was needed
    scopes: tuple[str, ...]
    token: str | None = None
    expires_in: int = 60


class _Job:
    def __init__(self, key: tuple[str, str, str], base: str, user_agent: str) -> None:
        self.key = key
        self.base = base
        self.user_agent = user_agent
        self.result: Prefetched | None = None
        self.started = time.monotonic()
        self.thread = threading.Thread(target=self._run, name="cargobay-prefetch", daemon=True)

    def _run(self) -> None:
        try:
            self.result = self._fetch()
        except Exception:  # the client will ask again and report properly
            self.result = None

    def _fetch(self) -> Prefetched | None:
        from cargobay.distclient.credentials import lookup

        domain, repository, actions = self.key
        status, headers, _ = _request("GET", f"{self.base}/v2/", {"User-Agent": self.user_agent})
        if status == 200:
            return Prefetched(self.base, None, None, ())
        if status != 401:
            return None
        challenge = pick_challenge(headers.get("www-authenticate", ""))
        found = lookup(domain, repository)
        creds = found or Credentials()
        scopes = tuple(merge_scopes([repository_scope(repository, actions)]))
        if challenge is None or challenge.scheme != "bearer":
            return Prefetched(self.base, challenge, found, scopes)
        realm = challenge.realm
        if not realm.startswith("http://") or creds.registry_token:
            return Prefetched(self.base, challenge, found, scopes)
        send = {"User-Agent": self.user_agent}
        if creds.identity_token:
            form = refresh_token_form(creds.identity_token, challenge.service, scopes)
            send["Content-Type"] = "application/x-www-form-urlencoded"
            status, _, body = _request("POST", realm, send, urlencode(form).encode())
        else:
            url, headers = token_request(realm, challenge.service, scopes, creds.username, creds.password)
            status, _, body = _request("GET", url, {**send, **headers})
        if status != 200:
            return Prefetched(self.base, challenge, found, scopes)
        doc = json.loads(body)
        token = doc.get("access_token") or doc.get("token") if isinstance(doc, dict) else None
        if not isinstance(token, str) or not token:
            return Prefetched(self.base, challenge, found, scopes)
        expires = doc.get("expires_in")
        return Prefetched(
            self.base, challenge, found, scopes, token, expires if isinstance(expires, int) else 60
        )


_jobs: dict[tuple[str, str, str], _Job] = {}
_lock = threading.Lock()


def start(domain: str, repository: str, actions: str, config: ClientConfig | None = None) -> None:
    """Begin the ping and token request for `repository` on `domain` (no-op when not applicable)."""
    key = (domain, repository, actions)
    with _lock:
        old = _jobs.get(key)
        if old is not None and time.monotonic() - old.started < FRESH_FOR:
            return
        if proxy_configured():
            return  # the client's requests go through the proxy; these sockets would not
        config = config or ClientConfig.load()
        endpoints = config.endpoints(domain)
        if len(endpoints) != 1 or endpoints[0].mirror or not endpoints[0].base.startswith("http://"):
            return
        job = _jobs[key] = _Job(key, endpoints[0].base, config.user_agent)
    job.thread.start()


def take(domain: str, repository: str, actions: str) -> Prefetched | None:
    """The answers of `start()` for the same arguments (waiting for them), once; else None."""
    with _lock:
        job = _jobs.pop((domain, repository, actions), None)
    if job is None or time.monotonic() - job.started > FRESH_FOR:
        return None
    job.thread.join(TIMEOUT * 2)
    return None if job.thread.is_alive() else job.result


def _request(
    method: str, url: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.0 exchange over plain TCP (the answer ends when the server closes)."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"not a plain-HTTP URL: {url}")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    host_header = parts.netloc.rpartition("@")[2]
    lines = [f"{method} {target} HTTP/1.0", f"Host: {host_header}", "Accept-Encoding: identity"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
    # An ASCII name goes as bytes: a str makes getaddrinfo import the IDNA codec (~10 ms of start-up).
    host: str | bytes = parts.hostname.encode("ascii") if parts.hostname.isascii() else parts.hostname
    address = (host, parts.port or 80)
    with socket.create_connection(address, timeout=TIMEOUT) as sock:  # type: ignore[arg-type]
        sock.sendall(request)
        received = bytearray()
        while chunk := sock.recv(65536):
            received += chunk
            if len(received) > _MAX_RESPONSE:
                raise ValueError("response too large")
    head, sep, payload = bytes(received).partition(b"\r\n\r\n")
    if not sep:
        raise ValueError("incomplete response")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    version, _, rest = status_line.partition(" ")
    if not version.startswith("HTTP/1."):
        raise ValueError(f"not an HTTP response: {status_line[:40]!r}")
    status = int(rest.split(" ", 1)[0])
    out: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        out[name.strip().lower()] = value.strip()
    if "chunked" in out.get("transfer-encoding", "").lower():
        raise ValueError("chunked response to an HTTP/1.0 request")
    length = out.get("content-length")
    if length is not None and len(payload) != int(length):
        raise ValueError("truncated response")
    return status, out, payload
