"""`docker search`'s registry side: the v1 search endpoint, `GET /v1/search?q=TERM&n=LIMIT`.

docker's rules (moby daemon/pkg/registry/search.go):

- A term containing `://` is refused (`... should not have a scheme`).
- The part before the first `/` names a registry only when it contains `.` or `:` or is exactly
  `localhost`; otherwise the term is searched on Docker Hub, whose search endpoint is
  `https://index.docker.io/v1/search`. `index.docker.io` and `docker.io` are Hub, and a
  `library/` prefix is dropped there.
- `n` is 1-100; 0 means the default, 25.
- The request carries `X-Docker-Token: true`; any answer but 200 is `unexpected status code N`.

Other registries are reached with the client's endpoint rules (plain HTTP on loopback; HTTPS
without verification then HTTP for configured insecure registries). Stored credentials are sent
when the registry challenges, from `GET /v2/` or from the search itself: Basic as such, Bearer
through a token scoped `registry:catalog:search`.

This module imports no HTTP library until `search()` runs, so the CLI can use its pure parts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

from cargobay.distclient.config import DOCKER_HUB_DOMAIN, ClientConfig
from cargobay.distclient.errors import ClientError

if TYPE_CHECKING:
    from cargobay.distclient.credentials import Credentials
    from cargobay.distclient.httpclient import HttpSession

DEFAULT_LIMIT = 25
MAX_LIMIT = 100
SEARCH_SCOPE = "registry:catalog:search"
HUB_INDEX_HOST = "index.docker.io"
HUB_SEARCH_URL = f"https://{HUB_INDEX_HOST}/v1/search"  # what docker asks for Docker Hub
MAX_RESPONSE_BYTES = 16 * 1024 * 1024


class SearchError(ClientError):
    """The search failed; `str()` is docker's wording (without `Error response from daemon: `)."""


@dataclass(frozen=True, slots=True)
class SearchResult:
    name: str
    description: str = ""
    star_count: int = 0
    is_official: bool = False
    is_automated: bool = False


@dataclass(frozen=True, slots=True)
class SearchResults:
    query: str
    num_results: int
    results: tuple[SearchResult, ...]


@dataclass(frozen=True, slots=True)
class SearchTarget:
    """Where a term is searched: `domain` is the registry (`docker.io` for Hub), `remote` the query."""

    domain: str
    remote: str

    @property
    def is_hub(self) -> bool:
        return self.domain == DOCKER_HUB_DOMAIN

    @property
    def client_domain(self) -> str:
        """The host the requests go to: Hub's search lives on `index.docker.io`."""
        return HUB_INDEX_HOST if self.is_hub else self.domain


def split_search_term(term: str) -> tuple[str, str]:
    """docker's splitReposSearchTerm: (registry, remote name); Hub is `docker.io`."""
    first, sep, rest = term.partition("/")
    if not sep or ("." not in first and ":" not in first and first != "localhost"):
        return DOCKER_HUB_DOMAIN, term
    return first, rest


def resolve_term(term: str) -> SearchTarget:
    """The registry and query for `term`, or docker's error for a term with a scheme."""
    if "://" in term:
        raise SearchError(f"invalid repository name: repository name ({term}) should not have a scheme")
    domain, remote = split_search_term(term)
    if domain == HUB_INDEX_HOST:
        domain = DOCKER_HUB_DOMAIN
    if domain == DOCKER_HUB_DOMAIN:
        remote = remote.removeprefix("library/")
    return SearchTarget(domain, remote)


def check_limit(limit: int) -> int:
    """0 means the default (25); anything else must be within [1, 100]."""
    if limit == 0:
        return DEFAULT_LIMIT
    if limit < 1 or limit > MAX_LIMIT:
        raise SearchError(f"limit {limit} is outside the range of [1, {MAX_LIMIT}]")
    return limit


def search_query(remote: str, limit: int) -> str:
    """`q=…&n=…` escaped as Go's url.QueryEscape does."""
    return f"q={quote_plus(remote, safe='')}&n={limit}"


def search_urls(term: str, limit: int = 0, config: ClientConfig | None = None) -> list[str]:
    """The search URLs tried for `term`, in order (no network; what `search()` requests)."""
    target = resolve_term(term)
    query = search_query(target.remote, check_limit(limit))
    config = config or ClientConfig.load()
    return [f"{e.base}/v1/search?{query}" for e in config.endpoints(target.client_domain)]


# ------------------------------------------------------------------------------ the answer


class _DecodeError(ValueError):
    pass


def _typed(doc: dict[str, Any], key: str, kind: type, where: str) -> Any:
    value = doc.get(key)
    if value is None:
        return kind()
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if not ok:
        go_kind = {str: "string", int: "int", bool: "bool"}[kind]
        raise _DecodeError(
            f"json: cannot unmarshal {_json_kind(value)} into Go struct field {where}.{key} of type {go_kind}"
        )
    return value


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return f"number {json.dumps(value)}" if isinstance(value, float) else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "value"


def parse_search_results(body: bytes) -> SearchResults:
    """Decode Docker Hub's search JSON as moby does: missing or null fields are zero values."""
    try:
        return _parse(body)
    except _DecodeError as exc:
        raise SearchError(f"error decoding registry search results: {exc}") from None


def _parse(body: bytes) -> SearchResults:
    try:
        doc = json.loads(body)
    except UnicodeDecodeError:
        raise _DecodeError("invalid UTF-8 in response") from None
    except ValueError as exc:
        text = body.strip()
        if not text:
            raise _DecodeError("EOF") from None
        raise _DecodeError(f"invalid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise _DecodeError(
            f"json: cannot unmarshal {_json_kind(doc)} into Go value of type registry.SearchResults"
        )
    query = _typed(doc, "query", str, "SearchResults")
    num_results = _typed(doc, "num_results", int, "SearchResults")
    raw_results = doc.get("results")
    if raw_results is None:
        raw_results = []
    if not isinstance(raw_results, list):
        raise _DecodeError(
            f"json: cannot unmarshal {_json_kind(raw_results)} into Go struct field "
            "SearchResults.results of type []registry.SearchResult"
        )
    results: list[SearchResult] = []
    for item in raw_results:
        if item is None:
            results.append(SearchResult(""))
            continue
        if not isinstance(item, dict):
            raise _DecodeError(
                f"json: cannot unmarshal {_json_kind(item)} into Go struct field "
                "SearchResults.results of type registry.SearchResult"
            )
        where = "SearchResult.results"
        results.append(
            SearchResult(
                name=_typed(item, "name", str, where),
                description=_typed(item, "description", str, where),
                star_count=_typed(item, "star_count", int, where),
                is_official=_typed(item, "is_official", bool, where),
                is_automated=_typed(item, "is_automated", bool, where),
            )
        )
    return SearchResults(query, num_results, tuple(results))


# ------------------------------------------------------------------------------ the request


def _stored_credentials(target: SearchTarget) -> Credentials:
    """What docker's ResolveAuthConfig finds: a credential store that fails means anonymous."""
    from cargobay.distclient.credentials import Credentials, CredentialsError, lookup

    try:
        return lookup(target.domain) or Credentials()
    except CredentialsError:
        return Credentials()


async def search(
    term: str,
    limit: int = 0,
    *,
    config: ClientConfig | None = None,
    credentials: Credentials | None = None,
    session: HttpSession | None = None,
) -> SearchResults:
    """Ask the registry named in `term` (Docker Hub by default); results in the registry's order."""
    target = resolve_term(term)
    limit = check_limit(limit)

    from cargobay.distclient.client import RegistryClient
    from cargobay.distclient.errors import DistributionError
    from cargobay.distclient.httpclient import HttpClientError

    config = config or ClientConfig.load()
    if credentials is None:
        credentials = _stored_credentials(target)
    path = f"/v1/search?{search_query(target.remote, limit)}"
    # Hub's search host is index.docker.io, so Hub's pull mirrors are never asked.
    client = RegistryClient(target.client_domain, config=config, session=session, credentials=credentials)
    body = bytearray()
    url = encoding = ""
    try:
        # The client's sessions keep bodies as sent (blobs are hashed raw): ask for no encoding.
        headers = {"X-Docker-Token": "true", "Accept-Encoding": "identity"}
        async with client.request(
            "GET", path, repository=None, scopes=[SEARCH_SCOPE], headers=headers
        ) as resp:
            url = str(resp.url)
            encoding = resp.headers.get("Content-Encoding", "").strip().lower()
            async for chunk in resp.iter_chunks():
                body += chunk
                if len(body) > MAX_RESPONSE_BYTES:
                    raise SearchError(f"search response from {url} exceeds {MAX_RESPONSE_BYTES} bytes")
    except DistributionError as exc:
        if "/v1/search?" in exc.url and exc.url.startswith(client.base_url):
            raise SearchError(f"unexpected status code {exc.status}") from None
        raise SearchError(str(exc)) from None
    except SearchError:
        raise
    except ClientError as exc:
        raise SearchError(str(exc)) from None
    except (HttpClientError, OSError, TimeoutError) as exc:
        # The answer broke off after its status line.
        raise SearchError(f'Get "{url}": {exc or exc.__class__.__name__}') from None
    finally:
        await client.close()
    return parse_search_results(_decoded(bytes(body), encoding))


def _decoded(body: bytes, encoding: str) -> bytes:
    """A body a registry compressed although asked not to (gzip or deflate)."""
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise SearchError(
            f"error decoding registry search results: unsupported content encoding {encoding!r}"
        )
    import zlib

    # wbits 47: gzip or zlib headers; raw deflate as a fallback.
    for wbits in (47, -15):
        decompressor = zlib.decompressobj(wbits)
        try:
            out = decompressor.decompress(body, MAX_RESPONSE_BYTES + 1)
        except zlib.error:
            continue
        if len(out) > MAX_RESPONSE_BYTES:
            raise SearchError(f"search response exceeds {MAX_RESPONSE_BYTES} bytes once decompressed")
        return out
    raise SearchError(f"error decoding registry search results: invalid {encoding} data")


__all__ = [
    "DEFAULT_LIMIT",
    "HUB_SEARCH_URL",
    "MAX_LIMIT",
    "SEARCH_SCOPE",
    "SearchError",
    "SearchResult",
    "SearchResults",
    "SearchTarget",
    "check_limit",
    "parse_search_results",
    "resolve_term",
    "search",
    "search_query",
    "search_urls",
    "split_search_term",
]
