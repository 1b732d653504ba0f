"""A tiny HTTP client for the hub API tests: one new TCP connection per request, raw bytes back.

A new connection per request lets the kernel hand requests to different worker processes, and
keeps every request independent of what a previous one left on a socket.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

# distribution-spec error codes, plus the optional legacy ones it lists.
SPEC_CODES = frozenset(
    {
        "BLOB_UNKNOWN",
        "BLOB_UPLOAD_INVALID",
        "BLOB_UPLOAD_UNKNOWN",
        "DIGEST_INVALID",
        "MANIFEST_BLOB_UNKNOWN",
        "MANIFEST_INVALID",
        "MANIFEST_UNKNOWN",
        "NAME_INVALID",
        "NAME_UNKNOWN",
        "SIZE_INVALID",
        "UNAUTHORIZED",
        "DENIED",
        "UNSUPPORTED",
        "TOOMANYREQUESTS",
    }
)
LEGACY_CODES = frozenset({"TAG_INVALID", "MANIFEST_UNVERIFIED", "PAGINATION_NUMBER_INVALID"})

# The statuses each code may come with: the spec's table, plus 416 for upload range errors
# (the spec answers an out-of-order chunk with 416) and 413 for an oversized manifest.
CODE_STATUSES: dict[str, frozenset[int]] = {
    "BLOB_UNKNOWN": frozenset({404}),
    "BLOB_UPLOAD_INVALID": frozenset({400, 416}),
    "BLOB_UPLOAD_UNKNOWN": frozenset({404}),
    "DIGEST_INVALID": frozenset({400}),
    "MANIFEST_BLOB_UNKNOWN": frozenset({400}),
    "MANIFEST_INVALID": frozenset({400, 413}),
    "MANIFEST_UNKNOWN": frozenset({404}),
    "NAME_INVALID": frozenset({400}),
    "NAME_UNKNOWN": frozenset({404}),
    "SIZE_INVALID": frozenset({400}),
    "UNAUTHORIZED": frozenset({401}),
    "DENIED": frozenset({403}),
    "UNSUPPORTED": frozenset({400, 405}),
    "TOOMANYREQUESTS": frozenset({429}),
    "TAG_INVALID": frozenset({400}),
    "MANIFEST_UNVERIFIED": frozenset({400}),
    "PAGINATION_NUMBER_INVALID": frozenset({400}),
}


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def sha512(data: bytes) -> str:
    return "sha512:" + hashlib.sha512(data).hexdigest()


def canonical(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


@dataclass
class Resp:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes
    method: str = ""
    path: str = ""

    def h(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"<{self.method} {self.path[:120]} → {self.status} {self.headers} {self.body[:400]!r}>"

    def errors(self) -> list[dict[str, Any]]:
        """The OCI error list; asserts the body has exactly the spec's shape."""
        doc = self.json()
        assert isinstance(doc, dict) and set(doc) == {"errors"}, self
        assert isinstance(doc["errors"], list) and doc["errors"], self
        for item in doc["errors"]:
            assert isinstance(item, dict), self
            assert {"code", "message"} <= set(item) <= {"code", "message", "detail"}, self
            assert isinstance(item["code"], str) and isinstance(item["message"], str), self
        return list(doc["errors"])

    def codes(self) -> list[str]:
        return [e["code"] for e in self.errors()]


def expect_error(resp: Resp, status: int | tuple[int, ...], *codes: str) -> None:
    """The response is an OCI error with that status (one of), a spec code and (one of) `codes`."""
    statuses = (status,) if isinstance(status, int) else status
    assert resp.status in statuses, resp
    assert "json" in (resp.h("content-type") or ""), resp
    found = resp.codes()
    for code in found:
        assert code in SPEC_CODES | LEGACY_CODES, f"{code} is not a distribution-spec error code: {resp}"
        assert resp.status in CODE_STATUSES[code], f"{code} does not go with status {resp.status}: {resp}"
    if codes:
        assert found[0] in codes, resp


@dataclass
class Client:
    """``Client("127.0.0.1:PORT")``; paths are relative to the host, e.g. ``/v2/``."""

    address: str
    timeout: float = 30.0
    default_headers: dict[str, str] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return self.address.rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Resp:
        if path.startswith("http://"):
            path = "/" + path.split("/", 3)[3]
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            all_headers = {**self.default_headers, **(headers or {})}
            if body is None and method in ("POST", "PUT", "PATCH") and "Content-Length" not in all_headers:
                all_headers["Content-Length"] = "0"
            conn.request(method, path, body=body, headers=all_headers)
            response = conn.getresponse()
            data = response.read()
            return Resp(response.status, {k.lower(): v for k, v in response.getheaders()}, data, method, path)
        finally:
            conn.close()

    def get(self, path: str, headers: Mapping[str, str] | None = None) -> Resp:
        return self.request("GET", path, headers=headers)

    def head(self, path: str, headers: Mapping[str, str] | None = None) -> Resp:
        return self.request("HEAD", path, headers=headers)

    def delete(self, path: str) -> Resp:
        return self.request("DELETE", path)

    # -- blobs ---------------------------------------------------------------------------

    def push_blob(self, repo: str, data: bytes, digest: str | None = None) -> str:
        """POST + PUT (the flow every client supports); returns the digest."""
        digest = digest or sha256(data)
        start = self.request("POST", f"/v2/{repo}/blobs/uploads/")
        assert start.status == 202, start
        location = start.h("location")
        assert location, start
        sep = "&" if "?" in location else "?"
        done = self.request(
            "PUT",
            f"{location}{sep}digest={digest}",
            data,
            {"Content-Type": "application/octet-stream"},
        )
        assert done.status == 201, done
        return digest

    def start_upload(self, repo: str, query: str = "") -> str:
        resp = self.request("POST", f"/v2/{repo}/blobs/uploads/{query}")
        assert resp.status == 202, resp
        location = resp.h("location")
        assert location, resp
        return location

    def blob_exists(self, repo: str, digest: str) -> bool:
        resp = self.head(f"/v2/{repo}/blobs/{digest}")
        assert resp.status in (200, 404), resp
        return resp.status == 200

    # -- manifests -----------------------------------------------------------------------

    def put_manifest(self, repo: str, ref: str, body: bytes, media_type: str | None) -> Resp:
        headers = {"Content-Type": media_type} if media_type else {}
        return self.request("PUT", f"/v2/{repo}/manifests/{ref}", body, headers)

    def push_image(
        self,
        repo: str,
        ref: str | None = None,
        *,
        layers: int = 1,
        docker: bool = False,
        config: bytes | None = None,
        config_type: str | None = None,
        extra: Mapping[str, Any] | None = None,
        salt: str = "",
    ) -> Image:
        """Push config + layers + an image manifest (by digest when `ref` is None)."""
        config = (
            config
            if config is not None
            else canonical({"architecture": "amd64", "os": "linux", "salt": salt or os.urandom(8).hex()})
        )
        layer_blobs = [os.urandom(64) + salt.encode() for _ in range(layers)]
        for blob in (config, *layer_blobs):
            self.push_blob(repo, blob)
        media = DOCKER_MANIFEST if docker else OCI_MANIFEST
        doc: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": media,
            "config": {
                "mediaType": config_type or (DOCKER_CONFIG if docker else OCI_CONFIG),
                "digest": sha256(config),
                "size": len(config),
            },
            "layers": [
                {"mediaType": DOCKER_LAYER if docker else OCI_LAYER, "digest": sha256(b), "size": len(b)}
                for b in layer_blobs
            ],
        }
        doc.update(extra or {})
        raw = json.dumps(doc, indent=3).encode()  # not canonical: bytes must come back as pushed
        digest = sha256(raw)
        resp = self.put_manifest(repo, ref or digest, raw, media)
        assert resp.status == 201, resp
        assert resp.h("docker-content-digest") == digest, resp
        return Image(raw, digest, media, config, layer_blobs, resp)


@dataclass
class Image:
    raw: bytes
    digest: str
    media_type: str
    config: bytes
    layers: list[bytes]
    put: Resp

    def descriptor(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.raw)}


def send_partial(address: str, head: bytes, body_part: bytes) -> socket.socket:
    """Open a connection, send request head and part of the body, return the still-open socket."""
    host, port = address.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(head + body_part)
    return sock


def server_pid_of(
    client_sock: socket.socket, server_port: int, candidates: list[int] | None = None
) -> int | None:
    """The pid of the process (among `candidates`, default all) holding the server end of a loopback connection."""
    client_port = client_sock.getsockname()[1]
    local = f"0100007F:{server_port:04X}"
    remote = f"0100007F:{client_port:04X}"
    inode = None
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            if fields[1] == local and fields[2] == remote:
                inode = fields[9]
                break
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for entry in [str(pid) for pid in candidates] if candidates else os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            for fd in os.listdir(f"/proc/{entry}/fd"):
                if os.readlink(f"/proc/{entry}/fd/{fd}") == target:
                    return int(entry)
        except OSError:
            continue
    return None


def child_pids(pid: int) -> list[int]:
    """The direct children of a process (the hub's workers)."""
    children: list[int] = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                children.append(int(entry))
    return children


def request_on_worker(
    address: str,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    workers: list[int] | None = None,
) -> tuple[Resp, int | None]:
    """One request on a new connection; also returns the pid of the worker that answered it."""
    host, port = address.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        all_headers = dict(headers or {})
        if body is None and method in ("POST", "PUT", "PATCH"):
            all_headers.setdefault("Content-Length", "0")
        conn.request(method, path, body=body, headers=all_headers)
        response = conn.getresponse()
        data = response.read()
        resp = Resp(response.status, {k.lower(): v for k, v in response.getheaders()}, data, method, path)
        # keep-alive: the worker still holds its end of the connection
        pid = server_pid_of(conn.sock, int(port), workers) if conn.sock is not None else None
        return resp, pid
    finally:
        conn.close()
