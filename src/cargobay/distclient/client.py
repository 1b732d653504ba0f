"""An async OCI Distribution client (HTTP through `cargobay.distclient.httpclient`).

One `RegistryClient` talks to one registry (domain). Authentication is one flow inside
`_request`: a 401 carries a challenge; Bearer challenges are answered with a token from the
realm (cached per scope set), Basic ones with the stored credentials, and the request is retried.

The pieces it uses live next to it: blob transfers in `blobs`, manifest records in `manifests`,
the HTTP session in `session`, errors (and `connection_error`) in `errors`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from contextlib import asynccontextmanager
from urllib.parse import urlencode, urljoin

from cargobay.distclient.auth import (
    Challenge,
    TokenCache,
    merge_scopes,
    pick_challenge,
    refresh_token_form,
    repository_scope,
    token_request,
)
from cargobay.distclient.blobs import (
    DEFAULT_UPLOAD_CHUNK,
    TRANSIENT_ERRORS,
    BlobStream,
    BlobUpload,
)
from cargobay.distclient.config import ClientConfig, split_host_port, ssl_context
from cargobay.distclient.credentials import Credentials, lookup
from cargobay.distclient.errors import (
    ClientError,
    DigestVerificationError,
    DistributionError,
    RegistryUnreachable,
    connection_error,
)
from cargobay.distclient.httpclient import HttpClientError, HttpSession, Response
from cargobay.distclient.manifests import ManifestInfo, RemoteManifest, media_type_of
from cargobay.distclient.prefetch import Prefetched
from cargobay.distclient.session import new_session
from cargobay.oci import mediatypes as mt
from cargobay.oci.digest import Digest, InvalidDigest, new_hasher
from cargobay.oci.errors import ParsedError

_NO_CREDENTIALS = Credentials()


class RegistryClient:
    """A client for one registry domain (`docker.io`, `127.0.0.1:5000`, …)."""

    def __init__(
        self,
        domain: str,
        *,
        config: ClientConfig | None = None,
        session: HttpSession | None = None,
        for_push: bool = False,
        credentials: Credentials | None = None,
        upload_chunk_size: int = DEFAULT_UPLOAD_CHUNK,
        upload_mode: str = "stream",
    ) -> None:
        self.domain = domain
        self.config = config or ClientConfig.load()
        self.for_push = for_push
        self.upload_chunk_size = upload_chunk_size
        if upload_mode not in ("stream", "chunked"):
            raise ValueError(f"upload_mode must be 'stream' or 'chunked', not {upload_mode!r}")
        self.upload_mode = upload_mode
        self._session = session
        self._owns_session = session is None
        self._explicit_credentials = credentials
        self._credentials: Credentials | None = None
        self._credentials_loaded = False
        self._endpoints = self.config.endpoints(domain, for_push=for_push)
        # TLS settings for requests to the chosen endpoint; set by the ping. The verifying
        # context (system CAs + certs.d) is built only when an https URL needs it.
        self._ssl_for_base: ssl.SSLContext | bool = True
        self._base: str | None = None
        self._is_mirror = False
        self._challenge: Challenge | None = None
        self._tokens = TokenCache()
        self._current_token: dict[tuple[str, ...], str] = {}
        # Concurrent transfers share one ping and one token request per scope (a token request
        # with a password costs the registry a password hash check each time).
        self._ping_lock = asyncio.Lock()
        self._token_locks: dict[tuple[str, str, tuple[str, ...]], asyncio.Lock] = {}

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def session(self) -> HttpSession:
        if self._session is None:
            self._session = new_session(self.config)
        return self._session

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> RegistryClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        return self._base or self._endpoints[-1].base

    # -- credentials -------------------------------------------------------------------------
    def credentials(self, repository: str | None = None) -> Credentials:
        if self._is_mirror:
            return _NO_CREDENTIALS
        if self._explicit_credentials is not None:
            return self._explicit_credentials
        if not self._credentials_loaded:
            self._credentials = lookup(self.domain, repository)
            self._credentials_loaded = True
        return self._credentials or _NO_CREDENTIALS

    def _tls(self, url: str, verify: bool = True) -> ssl.SSLContext | bool:
        """The `ssl=` for `url`: the registry's verifying context for https, else nothing."""
        if not verify:
            return False
        if url.startswith("https:"):
            return ssl_context(self.domain)
        return True  # plain HTTP: no context needed (a redirect to https gets the default one)

    # -- endpoint and ping -------------------------------------------------------------------
    async def ping(self) -> None:
        """`GET /v2/` on each endpoint in turn (mirrors first); keep the first that answers."""
        if self._base is not None:
            return
        async with self._ping_lock:
            if self._base is None:
                await self._ping_endpoints()

    async def _ping_endpoints(self) -> None:
        last: ClientError | None = None
        for endpoint in self._endpoints:
            base, is_mirror = endpoint.base, endpoint.mirror
            url = f"{base}/v2/"
            verify = self._tls(base, endpoint.verify)
            try:
                async with self.session.get(url, allow_redirects=True, ssl=verify) as resp:
                    await resp.read()
                    if resp.status == 401:
                        self._challenge = pick_challenge(resp.headers.get("WWW-Authenticate", ""))
                    elif resp.status >= 400 and is_mirror:
                        last = DistributionError(resp.status, [], method="GET", url=url)
                        continue
            except (HttpClientError, TimeoutError, OSError) as exc:
                last = connection_error("GET", url, exc)
                continue
            self._base, self._is_mirror = base, is_mirror
            self._ssl_for_base = verify
            return
        assert last is not None
        raise last

    def adopt(self, found: Prefetched | None) -> None:
        """Take the ping and token `cargobay.distclient.prefetch` fetched for this registry."""
        if found is None or self._base is not None or self._explicit_credentials is not None:
            return
        if [e.base for e in self._endpoints] != [found.base]:
            return
        self._base, self._is_mirror, self._ssl_for_base = found.base, False, True
        self._challenge = found.challenge
        if found.credentials is not None:
            self._credentials, self._credentials_loaded = found.credentials, True
        if found.token and found.challenge is not None:
            key = TokenCache.key(found.challenge.realm, found.challenge.service, list(found.scopes))
            self._tokens.put(key, found.token, found.expires_in)

    def use_next_endpoint(self) -> bool:
        """After a mirror failed an operation: fall back to the next endpoint. False when none."""
        if self._base is None:
            return False
        bases = [e.base for e in self._endpoints]
        index = bases.index(self._base)
        if index + 1 >= len(bases):
            return False
        self._endpoints = self._endpoints[index + 1 :]
        self._base = None
        self._challenge = None
        self._current_token.clear()
        return True

    @property
    def using_mirror(self) -> bool:
        return self._is_mirror

    # -- auth --------------------------------------------------------------------------------
    def _scopes(self, repository: str, extra: list[str] | None = None) -> list[str]:
        actions = "pull,push" if self.for_push else "pull"
        return merge_scopes([repository_scope(repository, actions), *(extra or [])])

    async def _authorization(self, scopes: list[str], repository: str | None, fresh: bool) -> str | None:
        challenge = self._challenge
        if challenge is None:
            return None
        creds = self.credentials(repository)
        if challenge.scheme == "basic":
            if not creds.username:
                return None
            pair = f"{creds.username}:{creds.password}".encode()
            return "Basic " + base64.b64encode(pair).decode()
        if challenge.scheme != "bearer":
            return None
        if creds.registry_token:
            return f"Bearer {creds.registry_token}"
        key = TokenCache.key(challenge.realm, challenge.service, scopes)
        token = None if fresh else self._tokens.get(key)
        if token is None:
            async with self._token_locks.setdefault(key, asyncio.Lock()):
                token = None if fresh else self._tokens.get(key)
                if token is None:
                    token, expires_in = await self._fetch_token(challenge, scopes, creds)
                    self._tokens.put(key, token, expires_in)
        return f"Bearer {token}"

    async def _fetch_token(
        self, challenge: Challenge, scopes: list[str], creds: Credentials
    ) -> tuple[str, int]:
        realm = challenge.realm
        if not realm:
            raise DistributionError(401, [ParsedError("UNAUTHORIZED", "authentication required")])
        try:
            if creds.identity_token:
                form = urlencode(refresh_token_form(creds.identity_token, challenge.service, scopes)).encode()
                form_type = {"Content-Type": "application/x-www-form-urlencoded"}
                request = self.session.post(realm, data=form, headers=form_type, ssl=self._tls(realm))
            else:
                url, headers = token_request(realm, challenge.service, scopes, creds.username, creds.password)
                request = self.session.get(url, headers=headers, ssl=self._tls(realm))
            async with request as resp:
                body = await resp.read()
                status = resp.status
        except (HttpClientError, TimeoutError, OSError) as exc:
            raise connection_error("GET", realm, exc) from None
        if status != 200:
            err = DistributionError.from_body(status, body, method="GET", url=realm)
            if status == 401 and not err.errors:
                err = DistributionError(401, [ParsedError("UNAUTHORIZED", "authentication required")])
            raise err
        try:
            doc = json.loads(body)
        except ValueError:
            raise ClientError(f"unable to decode token response from {realm}") from None
        token = doc.get("access_token") or doc.get("token") if isinstance(doc, dict) else None
        if not isinstance(token, str) or not token:
            raise ClientError(f"no token in response from {realm}")
        expires = doc.get("expires_in")
        return token, expires if isinstance(expires, int) else 60

    # -- the one request path ----------------------------------------------------------------
    def _url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}{path}"

    @asynccontextmanager
    async def request(
        self,
        method: str,
        path: str,
        *,
        repository: str | None,
        scopes: list[str] | None = None,
        headers: Mapping[str, str] | None = None,
        data: bytes | AsyncIterable[bytes] | None = None,
        ok: tuple[int, ...] = (200,),
        allow_redirects: bool = True,
    ) -> AsyncIterator[Response]:
        """Send a request with auth; yield the response when its status is in `ok`, else raise."""
        await self.ping()
        wanted = scopes if scopes is not None else (self._scopes(repository) if repository else [])
        url = self._url(path)
        fresh = False
        for attempt in range(3):
            send_headers = dict(headers or {})
            auth = await self._authorization(wanted, repository, fresh)
            if auth:
                send_headers["Authorization"] = auth
            try:
                resp = await self.session.request(
                    method,
                    url,
                    headers=send_headers,
                    data=data,
                    allow_redirects=allow_redirects,
                    ssl=self._ssl_for_base,
                )
            except (HttpClientError, TimeoutError, OSError) as exc:
                raise connection_error(method, url, exc) from None
            try:
                replayable = data is None or isinstance(data, bytes)
                if resp.status == 401 and attempt < 2 and replayable:
                    challenge = pick_challenge(resp.headers.get("WWW-Authenticate", ""))
                    if challenge is not None and (self._challenge is None or not auth or attempt == 0):
                        body = await resp.read()
                        had_auth = bool(auth)
                        self._challenge = challenge
                        if challenge.scheme == "bearer":
                            wanted = merge_scopes([*wanted, *challenge.scopes])
                        elif had_auth:  # Basic credentials were refused
                            raise DistributionError.from_body(401, body, method=method, url=url)
                        fresh = True
                        if challenge.scheme == "basic" and not self.credentials(repository).username:
                            raise DistributionError.from_body(401, body, method=method, url=url)
                        continue
                if resp.status not in ok:
                    body = await resp.read()
                    raise DistributionError.from_body(resp.status, body, method=method, url=url)
                yield resp
                return
            finally:
                resp.release()
        raise DistributionError(401, [ParsedError("UNAUTHORIZED", "authentication required")], url=url)

    # -- manifests ---------------------------------------------------------------------------
    async def get_manifest(self, repository: str, reference: str) -> RemoteManifest:
        path = f"/v2/{repository}/manifests/{reference}"
        headers = {"Accept": mt.ACCEPT_MANIFESTS}
        async with self.request("GET", path, repository=repository, headers=headers) as resp:
            raw = await _read_limited(resp, 4 * 1024 * 1024)
            content_type = resp.headers.get("Content-Type")
            header_digest = resp.headers.get("Docker-Content-Digest")
        expected: Digest | None = None
        if reference.startswith(("sha256:", "sha512:")):
            expected = Digest.parse(reference)
        elif header_digest:
            try:
                expected = Digest.parse(header_digest)
            except InvalidDigest:
                expected = None
        algorithm = expected.algorithm if expected else "sha256"
        hasher = new_hasher(algorithm)
        hasher.update(raw)
        actual = Digest(algorithm, hasher.hexdigest())
        if expected is not None and actual != expected:
            raise DigestVerificationError(f"manifest verification failed for digest {expected}: got {actual}")
        return RemoteManifest(raw, media_type_of(raw, content_type), actual)

    async def head_manifest(self, repository: str, reference: str) -> ManifestInfo | None:
        path = f"/v2/{repository}/manifests/{reference}"
        headers = {"Accept": mt.ACCEPT_MANIFESTS}
        try:
            async with self.request("HEAD", path, repository=repository, headers=headers) as resp:
                digest_text = resp.headers.get("Docker-Content-Digest")
                ctype = (resp.headers.get("Content-Type") or "").split(";", 1)[0].strip()
                size = int(resp.headers.get("Content-Length") or 0)
        except DistributionError as exc:
            if exc.status == 404:
                return None
            raise
        digest = Digest.parse(digest_text) if digest_text and Digest.is_valid(digest_text) else None
        return ManifestInfo(ctype, digest, size)

    async def put_manifest(self, repository: str, reference: str, raw: bytes, media_type: str) -> Digest:
        path = f"/v2/{repository}/manifests/{reference}"
        headers = {"Content-Type": media_type}
        async with self.request(
            "PUT", path, repository=repository, headers=headers, data=raw, ok=(200, 201, 202)
        ) as resp:
            digest_text = resp.headers.get("Docker-Content-Digest")
        hasher = new_hasher("sha256")
        hasher.update(raw)
        local = Digest("sha256", hasher.hexdigest())
        if digest_text and Digest.is_valid(digest_text) and Digest.parse(digest_text) != local:
            raise DigestVerificationError(f"registry stored manifest as {digest_text}, expected {local}")
        return local

    async def delete_manifest(self, repository: str, digest: Digest) -> None:
        scopes = merge_scopes([repository_scope(repository, "delete")])
        path = f"/v2/{repository}/manifests/{digest}"
        async with self.request("DELETE", path, repository=repository, scopes=scopes, ok=(200, 202)):
            pass

    # -- blobs -------------------------------------------------------------------------------
    async def stat_blob(self, repository: str, digest: Digest) -> int | None:
        path = f"/v2/{repository}/blobs/{digest}"
        try:
            async with self.request("HEAD", path, repository=repository) as resp:
                return int(resp.headers.get("Content-Length") or 0)
        except DistributionError as exc:
            if exc.status == 404:
                return None
            raise

    @asynccontextmanager
    async def open_blob(self, repository: str, digest: Digest, offset: int = 0) -> AsyncIterator[BlobStream]:
        """Stream a blob from `offset` (Range). `stream.offset` says where the bytes really start."""
        path = f"/v2/{repository}/blobs/{digest}"
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        async with self.request("GET", path, repository=repository, headers=headers, ok=(200, 206)) as resp:
            start = offset if resp.status == 206 else 0
            yield BlobStream(resp, start)

    async def read_blob(self, repository: str, digest: Digest, limit: int = 64 * 1024 * 1024) -> bytes:
        async with self.open_blob(repository, digest) as stream:
            data = await _read_limited(stream.response, limit)
        hasher = new_hasher(digest.algorithm)
        hasher.update(data)
        if hasher.hexdigest() != digest.encoded:
            raise DigestVerificationError(f"digest mismatch for {digest}")
        return data

    async def start_upload(
        self, repository: str, *, mount: Digest | None = None, from_repository: str | None = None
    ) -> BlobUpload | None:
        """POST an upload; with `mount`, try a cross-repository mount first (None = mounted)."""
        path = f"/v2/{repository}/blobs/uploads/"
        scopes = None
        if mount is not None and from_repository:
            path += "?" + urlencode({"mount": str(mount), "from": from_repository})
            scopes = self._scopes(repository, [repository_scope(from_repository, "pull")])
        async with self.request(
            "POST", path, repository=repository, scopes=scopes, ok=(201, 202), data=b""
        ) as resp:
            if resp.status == 201 and mount is not None:
                return None
            location = resp.headers.get("Location")
        if not location:
            raise ClientError(f"registry {self.domain} did not return an upload location")
        return BlobUpload(self, repository, urljoin(self.base_url + "/", location), scopes)

    async def mount_blob(self, repository: str, digest: Digest, from_repository: str) -> bool:
        upload = await self.start_upload(repository, mount=digest, from_repository=from_repository)
        if upload is None:
            return True
        await upload.cancel()
        return False

    async def push_blob_bytes(self, repository: str, digest: Digest, data: bytes) -> None:
        upload = await self.start_upload(repository)
        assert upload is not None
        await upload.write(data)
        await upload.commit(digest)

    # -- tags --------------------------------------------------------------------------------
    async def list_tags(self, repository: str, page_size: int | None = None) -> list[str]:
        path = f"/v2/{repository}/tags/list"
        if page_size:
            path += f"?n={page_size}"
        tags: list[str] = []
        while path:
            async with self.request("GET", path, repository=repository) as resp:
                doc = await resp.json()
                link = resp.headers.get("Link", "")
            if isinstance(doc, dict) and isinstance(doc.get("tags"), list):
                tags += [str(t) for t in doc["tags"]]
            path = _next_link(link, self._url(path))
        return tags


def _next_link(header: str, current: str) -> str:
    for part in header.split(","):
        if 'rel="next"' in part or "rel=next" in part:
            start, end = part.find("<"), part.find(">")
            if start != -1 and end > start:
                return urljoin(current, part[start + 1 : end])
    return ""


async def _read_limited(resp: Response, limit: int) -> bytes:
    out = bytearray()
    async for chunk in resp.iter_chunks():
        out += chunk
        if len(out) > limit:
            raise ClientError(f"response from {resp.url} exceeds {limit} bytes")
    return bytes(out)


# Names other modules import from here; each lives in the module that does its one job.
__all__ = [
    "TRANSIENT_ERRORS",
    "BlobStream",
    "BlobUpload",
    "ManifestInfo",
    "RegistryClient",
    "RegistryUnreachable",
    "RemoteManifest",
    "connection_error",
    "new_session",
    "split_host_port",
]
