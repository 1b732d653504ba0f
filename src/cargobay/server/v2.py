"""The `/v2/` registry API: path dispatch and HTTP details; the logic lives in RegistryService."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import urlencode

from aiohttp import web

from cargobay.oci import mediatypes as mt
from cargobay.oci.errors import ErrorCode, RegistryError
from cargobay.oci.manifest import MAX_MANIFEST_BYTES
from cargobay.registry.grants import official_name
from cargobay.registry.pagination import parse_page
from cargobay.registry.pulls import PullCounter
from cargobay.registry.service import RegistryService, UploadState, parse_digest, parse_repository
from cargobay.server.auth import Permit, RegistryGuard
from cargobay.server.http import API_VERSION_HEADER

Handler = Callable[[web.Request, str, str], Awaitable[web.StreamResponse]]

_ROUTES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?P<name>.+)/blobs/uploads/?"), "uploads"),
    (re.compile(r"(?P<name>.+)/blobs/uploads/(?P<arg>[^/]+)"), "upload"),
    (re.compile(r"(?P<name>.+)/blobs/(?P<arg>[^/]+)"), "blob"),
    (re.compile(r"(?P<name>.+)/manifests/(?P<arg>[^/]+)"), "manifest"),
    (re.compile(r"(?P<name>.+)/tags/list"), "tags"),
    (re.compile(r"(?P<name>.+)/referrers/(?P<arg>[^/]+)"), "referrers"),
]
_CONTENT_RANGE = re.compile(r"([0-9]{1,19})-([0-9]{1,19})")
_SINGLE_BYTE_RANGE = re.compile(r"bytes=[0-9]*-[0-9]*", re.IGNORECASE)
_FILE_CHUNK = 1024 * 1024
_TAGS_DEFAULT_PAGE = 1000
_CATALOG_DEFAULT_PAGE = 100
_REFERRERS_DEFAULT_PAGE = 1000


def _headers(**extra: str) -> dict[str, str]:
    return {**API_VERSION_HEADER, **extra}


def _unsupported() -> RegistryError:
    return RegistryError(ErrorCode.UNSUPPORTED, "method not allowed on this endpoint", status=405)


async def _body_chunks(request: web.Request) -> AsyncIterator[bytes]:
    async for chunk in request.content.iter_any():
        yield chunk


def _content_length(request: web.Request) -> int | None:
    return request.content_length


def _upload_headers(state: UploadState, status_range: bool = True) -> dict[str, str]:
    headers = _headers(
        Location=f"/v2/{state.repository}/blobs/uploads/{state.id}",
        **{"Docker-Upload-UUID": state.id},
    )
    if status_range:
        headers["Range"] = f"0-{max(state.size - 1, 0)}"
    headers["Content-Length"] = "0"
    return headers


def _parse_content_range(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    match = _CONTENT_RANGE.fullmatch(value.strip())
    if match is None:
        raise RegistryError(
            ErrorCode.BLOB_UPLOAD_INVALID,
            f"invalid Content-Range {value[:60]!r}: expected <start>-<end>",
            status=416,
        )
    start, end = int(match[1]), int(match[2])
    if end < start:
        raise RegistryError(ErrorCode.BLOB_UPLOAD_INVALID, "Content-Range end before start", status=416)
    return start, end


def _chunk_length(content_range: tuple[int, int] | None, length: int | None) -> int | None:
    """The length a chunk must have: its Content-Range's, which Content-Length must agree with."""
    if content_range is None:
        return length
    start, end = content_range
    if length is not None and length != end - start + 1:
        raise RegistryError(ErrorCode.SIZE_INVALID, "Content-Length does not match Content-Range")
    return end - start + 1


def _next_link(path: str, n: int, last: str) -> str:
    return f'<{path}?{urlencode({"n": n, "last": last})}>; rel="next"'


_PERMIT = web.RequestKey("cargobay.permit", Permit)


def _required_action(kind: str, method: str) -> str:
    if method in ("GET", "HEAD") and kind in ("blob", "manifest", "tags", "referrers"):
        return "pull"
    if method == "DELETE" and kind in ("blob", "manifest"):
        return "delete"
    return "push"


def _visible(request: web.Request) -> bool:
    permit = request.get(_PERMIT)
    return permit is None or permit.visible


class V2Api:
    def __init__(
        self, service: RegistryService, guard: RegistryGuard | None = None, pulls: PullCounter | None = None
    ) -> None:
        self.service = service
        self.guard = guard
        self.pulls = pulls  # counts manifest GETs (never HEADs) in memory, flushed every second
        self._handlers: dict[str, Handler] = {
            "uploads": self.uploads,
            "upload": self.upload,
            "blob": self.blob,
            "manifest": self.manifest,
            "tags": self.tags,
            "referrers": self.referrers,
        }

    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/v2", self.base)
        app.router.add_route("*", "/v2/", self.base)
        app.router.add_route("*", "/v2/{tail:.+}", self.dispatch)

    async def base(self, request: web.Request) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD"):
            raise _unsupported()
        if self.guard is not None:
            await self.guard.identify_for_listing(request, None)
        return web.Response(body=b"{}", content_type="application/json", headers=_headers())

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        raw = request.rel_url.raw_path[4:]  # strip "/v2/"
        if raw == "_catalog":
            return await self.catalog(request)
        if "%" in raw:
            raise RegistryError(ErrorCode.NAME_INVALID, "percent-encoded paths are not accepted")
        for pattern, kind in _ROUTES:
            match = pattern.fullmatch(raw)
            if match:
                name = official_name(parse_repository(match["name"]))
                if self.guard is not None:
                    action = _required_action(kind, request.method)
                    request[_PERMIT] = await self.guard.authorize(request, name, action)
                return await self._handlers[kind](request, name, match.groupdict().get("arg") or "")
        raise RegistryError(ErrorCode.NAME_UNKNOWN, "unknown endpoint", status=404)

    # -- blobs ----------------------------------------------------------------------------

    async def blob(self, request: web.Request, name: str, arg: str) -> web.StreamResponse:
        digest = parse_digest(arg)
        if request.method in ("GET", "HEAD"):
            info = await self.service.stat_blob(name, digest, visible=_visible(request))
            headers = _headers(
                **{
                    "Docker-Content-Digest": str(digest),
                    "Content-Type": "application/octet-stream",
                    "ETag": f'"{digest}"',
                    "Cache-Control": "max-age=31536000",
                }
            )
            if request.method == "HEAD":
                headers["Content-Length"] = str(info.size)
                headers["Accept-Ranges"] = "bytes"
                return web.Response(headers=headers)
            if not _SINGLE_BYTE_RANGE.fullmatch(request.headers.get("Range", "bytes=0-").strip()):
                # Several ranges or another unit: RFC 9110 §14.2 lets us ignore Range (aiohttp says 416).
                return await _send_whole_file(request, info.path, info.size, headers)
            return web.FileResponse(info.path, headers=headers)
        if request.method == "DELETE":
            await self.service.delete_blob(name, digest)
            return web.Response(status=202, headers=_headers(**{"Docker-Content-Digest": str(digest)}))
        raise _unsupported()

    async def uploads(self, request: web.Request, name: str, _arg: str) -> web.StreamResponse:
        if request.method != "POST":
            raise _unsupported()
        query = request.rel_url.query
        mount, source = query.get("mount"), query.get("from")
        if mount:
            digest = parse_digest(mount)
            origin = official_name(parse_repository(source)) if source else None
            if (
                origin is not None
                and await self._may_mount(request, origin)
                and await self.service.mount_blob(name, digest, origin)
            ):
                return web.Response(
                    status=201,
                    headers=_headers(
                        Location=f"/v2/{name}/blobs/{digest}",
                        **{"Docker-Content-Digest": str(digest), "Content-Length": "0"},
                    ),
                )
        elif query.get("digest"):
            expected = parse_digest(query["digest"])
            digest = await self.service.monolithic_upload(
                name, expected, _body_chunks(request), _content_length(request)
            )
            return web.Response(
                status=201,
                headers=_headers(
                    Location=f"/v2/{name}/blobs/{digest}",
                    **{"Docker-Content-Digest": str(digest), "Content-Length": "0"},
                ),
            )
        state = await self.service.start_upload(name, query.get("digest-algorithm") or "sha256")
        headers = _upload_headers(state)
        headers["OCI-Chunk-Min-Length"] = str(self.service.chunk_min_length)
        return web.Response(status=202, headers=headers)

    async def _may_mount(self, request: web.Request, source: str) -> bool:
        """Only from a repository the caller can read (CVE-2024-39897); otherwise a new upload."""
        permit = request.get(_PERMIT)
        if self.guard is None or permit is None:
            return True
        return await self.guard.can_read(permit.identity, source)

    async def upload(self, request: web.Request, name: str, upload_id: str) -> web.StreamResponse:
        method = request.method
        if method == "GET":
            state = await self.service.upload_state(name, upload_id)
            return web.Response(status=204, headers=_upload_headers(state))
        if method == "PATCH":
            content_range = _parse_content_range(request.headers.get("Content-Range"))
            length = _chunk_length(content_range, _content_length(request))
            state = await self.service.append_upload(
                name,
                upload_id,
                _body_chunks(request),
                start=content_range[0] if content_range else None,
                content_length=length,
            )
            return web.Response(status=202, headers=_upload_headers(state))
        if method == "PUT":
            content_range = _parse_content_range(request.headers.get("Content-Range"))
            length = _chunk_length(content_range, _content_length(request))
            has_body = bool(length) or (length is None and request.body_exists)
            digest = await self.service.complete_upload(
                name,
                upload_id,
                request.rel_url.query.get("digest"),
                _body_chunks(request) if has_body else None,
                start=content_range[0] if content_range else None,
                content_length=length,
            )
            return web.Response(
                status=201,
                headers=_headers(
                    Location=f"/v2/{name}/blobs/{digest}",
                    **{"Docker-Content-Digest": str(digest), "Content-Length": "0"},
                ),
            )
        if method == "DELETE":
            await self.service.cancel_upload(name, upload_id)
            return web.Response(status=204, headers=_headers(**{"Content-Length": "0"}))
        raise _unsupported()

    # -- manifests ------------------------------------------------------------------------

    async def manifest(self, request: web.Request, name: str, reference: str) -> web.StreamResponse:
        method = request.method
        if method in ("GET", "HEAD"):
            row = await self.service.get_manifest(
                name, reference, with_content=method == "GET", visible=_visible(request)
            )
            headers = _headers(
                **{
                    "Docker-Content-Digest": row.digest,
                    "Content-Type": row.media_type,
                    "ETag": f'"{row.digest}"',
                }
            )
            if method == "HEAD":
                headers["Content-Length"] = str(row.size)
                return web.Response(headers=headers)
            if self.pulls is not None:
                self.pulls.count(name)
            return web.Response(body=row.content, headers=headers)
        if method == "PUT":
            length = _content_length(request)
            if length is not None and length > MAX_MANIFEST_BYTES:
                raise RegistryError(ErrorCode.MANIFEST_INVALID, "manifest exceeds 4 MiB", status=413)
            body = await _read_limited(request, MAX_MANIFEST_BYTES)
            result = await self.service.put_manifest(
                name,
                reference,
                request.headers.get("Content-Type"),
                body,
                request.rel_url.query.getall("tag", []),
            )
            headers = _headers(
                Location=f"/v2/{name}/manifests/{result.digest}",
                **{"Docker-Content-Digest": str(result.digest), "Content-Length": "0"},
            )
            if result.subject is not None:
                headers["OCI-Subject"] = str(result.subject)
            if request.rel_url.query.getall("tag", []):
                headers["OCI-Tag"] = ", ".join(result.tags)
            return web.Response(status=201, headers=headers)
        if method == "DELETE":
            await self.service.delete_manifest(name, reference)
            return web.Response(status=202, headers=_headers(**{"Content-Length": "0"}))
        raise _unsupported()

    # -- discovery ------------------------------------------------------------------------

    async def tags(self, request: web.Request, name: str, _arg: str) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD"):
            raise _unsupported()
        query = request.rel_url.query
        page = parse_page(
            query.get("n"),
            query.get("last"),
            default=min(_TAGS_DEFAULT_PAGE, self.service.tags_page_max),
            maximum=self.service.tags_page_max,
        )
        found, more = await self.service.list_tags(name, page, visible=_visible(request))
        headers = _headers()
        if more and found:
            headers["Link"] = _next_link(f"/v2/{name}/tags/list", page.limit, found[-1])
        return web.json_response({"name": name, "tags": found}, headers=headers)

    async def catalog(self, request: web.Request) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD"):
            raise _unsupported()
        query = request.rel_url.query
        page = parse_page(
            query.get("n"),
            query.get("last"),
            default=min(_CATALOG_DEFAULT_PAGE, self.service.catalog_page_max),
            maximum=self.service.catalog_page_max,
        )
        namespaces: list[str] | None = None
        if self.guard is not None:
            identity = await self.guard.identify_for_listing(request, "registry:catalog:*")
            namespaces = await self.guard.visible_namespaces(identity)
        found, more = await self.service.catalog(page, namespaces)
        headers = _headers()
        if more and found:
            headers["Link"] = _next_link("/v2/_catalog", page.limit, found[-1])
        return web.json_response({"repositories": found}, headers=headers)

    async def referrers(self, request: web.Request, name: str, arg: str) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD"):
            raise _unsupported()
        subject = parse_digest(arg)
        query = request.rel_url.query
        artifact_type = query.get("artifactType")
        page = parse_page(
            query.get("n"),
            query.get("last"),
            default=_REFERRERS_DEFAULT_PAGE,
            maximum=_REFERRERS_DEFAULT_PAGE,
        )
        if page.last is not None:
            parse_digest(page.last)
        body, continue_after = await self.service.referrers(
            name, subject, artifact_type, page, visible=_visible(request)
        )
        headers = _headers()
        if artifact_type is not None:
            headers["OCI-Filters-Applied"] = "artifactType"
        if continue_after is not None:
            params = {"n": page.limit, "last": continue_after}
            if artifact_type is not None:
                params["artifactType"] = artifact_type
            headers["Link"] = f'</v2/{name}/referrers/{subject}?{urlencode(params)}>; rel="next"'
        return web.Response(body=body, content_type=mt.OCI_INDEX, headers=headers)


async def _send_whole_file(
    request: web.Request, path: Path, size: int, headers: dict[str, str]
) -> web.StreamResponse:
    response = web.StreamResponse(headers={**headers, "Content-Length": str(size)})
    await response.prepare(request)
    with open(path, "rb") as blob:  # reads go through a thread below
        while chunk := await asyncio.to_thread(blob.read, _FILE_CHUNK):
            await response.write(chunk)
    await response.write_eof()
    return response


async def _read_limited(request: web.Request, limit: int) -> bytes:
    body = bytearray()
    async for chunk in request.content.iter_any():
        body += chunk
        if len(body) > limit:
            raise RegistryError(ErrorCode.MANIFEST_INVALID, "manifest exceeds 4 MiB", status=413)
    return bytes(body)


__all__ = ["V2Api"]
