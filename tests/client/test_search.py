"""`cargobay search`: docker search's URL choice, filters, errors and output.

The registry side is a small real HTTP server on loopback (`FakeSearchRegistry`, http.server in
a thread) that answers `/v1/search` in Docker Hub's format, challenges with Basic or Bearer
(with its own `/token`), or has no search at all (404). Expected tables are written out as
docker prints them (Go tabwriter: columns padded to the widest cell + 3, at least 10, counted
in characters; cells of a row's last column are not padded).
"""

from __future__ import annotations

import base64
import gzip
import json
import socket
import subprocess
import sys
import threading
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner

from cargobay.cli.errors import CliError
from cargobay.cli.search import (
    AUTOMATED_WARNING,
    DEFAULT_TABLE,
    SearchFilters,
    apply_filters,
    parse_filter_flags,
    parse_go_int,
    render_results,
    search,
    search_filters,
)
from cargobay.distclient.config import ClientConfig
from cargobay.distclient.search import (
    HUB_SEARCH_URL,
    SearchError,
    SearchResult,
    check_limit,
    parse_search_results,
    resolve_term,
    search_urls,
    split_search_term,
)
from support.http import request

# ---------------------------------------------------------------------------- fixed data

LONG_ASCII = "Full-chain, Internet enabled, busybox made from scratch. Comes in git and cURL flavors."
WIDE = "日本語の説明文です。とても長い説明文がここに続きます。"  # 27 characters, 54 cells
MIXED = "x" * 43 + "日本語"  # 46 characters, 49 cells: the cut falls inside a wide character

HUB_DOC: list[dict[str, Any]] = [
    {"name": "busybox", "description": "Busybox base image.", "star_count": 3000,
     "is_official": True, "is_automated": False},
    {"name": "radial/busyboxplus", "description": LONG_ASCII, "star_count": 8,
     "is_official": False, "is_automated": True},
    {"name": "alice/nihongo", "description": WIDE, "star_count": 12,
     "is_official": False, "is_automated": False},
    {"name": "bob/multi-line", "description": "line one\nline two\r\nline three", "star_count": 0,
     "is_official": False, "is_automated": False},
    {"name": "carol/mixed-busybox", "description": MIXED, "star_count": 150,
     "is_official": False, "is_automated": False},
]  # fmt: skip


def results_of(doc: list[dict[str, Any]]) -> list[SearchResult]:
    return list(parse_search_results(json.dumps({"results": doc}).encode()).results)


# ---------------------------------------------------------------------------- the fake registry


@dataclass
class FakeOptions:
    auth: str | None = None  # None, "basic", "bearer", "bearer-search" (only /v1/search challenges)
    has_search: bool = True
    users: dict[str, str] = field(default_factory=lambda: {"alice": "s3cret"})
    private: list[dict[str, Any]] = field(default_factory=list)  # shown to alice only
    raw_body: bytes | None = None  # answer /v1/search with these bytes
    compress: str | None = None  # "gzip" or "deflate": compress the search answer even so


class FakeSearchRegistry:
    """A loopback registry with Docker Hub's v1 search; records what clients send."""

    def __init__(self, results: list[dict[str, Any]], options: FakeOptions | None = None) -> None:
        self.results = results
        self.options = options or FakeOptions()
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.token_requests: list[dict[str, Any]] = []
        self.tokens: dict[str, str] = {}  # token -> user ("" anonymous)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake.handle(self, "GET")

            def do_POST(self) -> None:
                fake.handle(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeSearchRegistry:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    # -- answers
    @staticmethod
    def send(
        handler: BaseHTTPRequestHandler, status: int, doc: Any, headers: dict[str, str] | None = None
    ) -> None:
        body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(body)

    def challenge(self, handler: BaseHTTPRequestHandler, scope: str | None) -> None:
        if self.options.auth == "basic":
            header = 'Basic realm="basic-realm"'
        else:
            header = f'Bearer realm="http://{self.host}/token",service="fake-search"'
            if scope:
                header += f',scope="{scope}"'
        body = {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required", "detail": None}]}
        self.send(handler, 401, body, {"WWW-Authenticate": header})

    def basic_user(self, header: str) -> str | None:
        if not header.lower().startswith("basic "):
            return None
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return user if self.options.users.get(user) == password else None

    def user_of(self, handler: BaseHTTPRequestHandler, scope: str | None) -> str | None:
        """The caller, or None after sending a challenge."""
        header = handler.headers.get("Authorization", "")
        if self.options.auth == "basic":
            user = self.basic_user(header)
            if user is None:
                self.challenge(handler, None)
            return user
        if header.lower().startswith("bearer ") and header[7:] in self.tokens:
            return self.tokens[header[7:]]
        self.challenge(handler, scope)
        return None

    def handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        self.requests.append((method, handler.path, dict(handler.headers.items())))
        if parts.path == "/token":
            return self.token(handler, method, query)
        if parts.path == "/v2/":
            if self.options.auth in ("basic", "bearer") and self.user_of(handler, None) is None:
                return None
            return self.send(handler, 200, {})
        if parts.path == "/v1/search" and self.options.has_search:
            user = ""
            if self.options.auth is not None:
                found = self.user_of(handler, "registry:catalog:search")
                if found is None:
                    return None
                user = found
            if self.options.raw_body is not None:
                return self.send(handler, 200, self.options.raw_body)
            return self.search(handler, query, user)
        body = {"errors": [{"code": "NOT_FOUND", "message": "not found"}]}
        return self.send(handler, 404, body)

    def search(self, handler: BaseHTTPRequestHandler, query: dict[str, list[str]], user: str) -> None:
        term = query.get("q", [""])[0]
        limit = int(query.get("n", ["25"])[0])
        pool = self.results + (self.options.private if user == "alice" else [])
        found = [r for r in pool if term.lower() in (r["name"] + " " + r["description"]).lower()]
        doc = {
            "num_results": len(found),
            "num_pages": 1,
            "page": 1,
            "page_size": limit,
            "query": term,
            "results": found[:limit],
        }
        if self.options.compress is None:
            return self.send(handler, 200, doc)
        raw = json.dumps(doc).encode()
        packed = gzip.compress(raw) if self.options.compress == "gzip" else zlib.compress(raw)
        return self.send(handler, 200, packed, {"Content-Encoding": self.options.compress})

    def token(self, handler: BaseHTTPRequestHandler, method: str, query: dict[str, list[str]]) -> None:
        header = handler.headers.get("Authorization", "")
        if method == "POST":
            length = int(handler.headers.get("Content-Length") or 0)
            form = parse_qs(handler.rfile.read(length).decode())
            record = {k: v[0] for k, v in form.items()}
            record["method"] = "POST"
            self.token_requests.append(record)
            user = record.get("refresh_token", "").removeprefix("refresh-")
            if record.get("grant_type") != "refresh_token" or user not in self.options.users:
                return self.send(handler, 401, {"error": "invalid_grant"})
            token = f"tok-{len(self.tokens)}"
            self.tokens[token] = user
            return self.send(handler, 200, {"access_token": token, "expires_in": 300})
        self.token_requests.append(
            {"method": "GET", "scope": query.get("scope", []), "service": query.get("service", [""])[0],
             "account": query.get("account", [None])[0], "basic": header.lower().startswith("basic ")}
        )  # fmt: skip
        user = ""
        if header:
            found = self.basic_user(header)
            if found is None:
                body = {"errors": [{"code": "UNAUTHORIZED", "message": "incorrect username or password"}]}
                return self.send(handler, 401, body)
            user = found
        token = f"tok-{len(self.tokens)}"
        self.tokens[token] = user
        return self.send(handler, 200, {"token": token, "expires_in": 300})

    def searches(self) -> list[tuple[dict[str, list[str]], dict[str, str]]]:
        """(query, headers) of each /v1/search request."""
        out = []
        for method, path, headers in self.requests:
            parts = urlsplit(path)
            if method == "GET" and parts.path == "/v1/search":
                out.append((parse_qs(parts.query, keep_blank_values=True), headers))
        return out


@pytest.fixture
def fake_registry() -> Iterator[type[FakeSearchRegistry]]:
    started: list[FakeSearchRegistry] = []

    class Started(FakeSearchRegistry):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            started.append(self)
            self.__enter__()

    yield Started
    for registry in started:
        registry.__exit__()


def run_search(*args: str) -> Any:
    """In-process `cargobay search ARGS` (environment from the `cb` fixture)."""
    return CliRunner().invoke(search, list(args), catch_exceptions=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------------------- term and URL


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("busybox", ("docker.io", "busybox")),
        ("bob/app", ("docker.io", "bob/app")),
        ("Foo/bar", ("docker.io", "Foo/bar")),  # uppercase does not make a host here
        ("localhost/foo", ("localhost", "foo")),
        ("localhost", ("docker.io", "localhost")),
        ("example.com/foo/bar", ("example.com", "foo/bar")),
        ("127.0.0.1:5000/term", ("127.0.0.1:5000", "term")),
        ("host:5000/term", ("host:5000", "term")),
        ("[::1]:5000/x", ("[::1]:5000", "x")),
        ("example.com", ("docker.io", "example.com")),
    ],
)
def test_split_search_term(term: str, expected: tuple[str, str]) -> None:
    assert split_search_term(term) == expected


def test_hub_terms_drop_library_and_index_host() -> None:
    assert resolve_term("library/busybox").remote == "busybox"
    assert resolve_term("docker.io/library/busybox").remote == "busybox"
    target = resolve_term("index.docker.io/library/busybox")
    assert (target.domain, target.remote, target.is_hub) == ("docker.io", "busybox", True)
    other = resolve_term("example.com/library/busybox")
    assert (other.domain, other.remote, other.is_hub) == ("example.com", "library/busybox", False)


def test_search_urls() -> None:
    config = ClientConfig(insecure_registries=("insecure.example",))
    assert search_urls("busybox", 0, config) == [f"{HUB_SEARCH_URL}?q=busybox&n=25"]
    assert HUB_SEARCH_URL == "https://index.docker.io/v1/search"
    assert search_urls("library/busybox", 10, config) == ["https://index.docker.io/v1/search?q=busybox&n=10"]
    assert search_urls("bob/my app", 100, config) == [
        "https://index.docker.io/v1/search?q=bob%2Fmy+app&n=100"
    ]
    assert search_urls("127.0.0.1:5000/term", 0, config) == ["http://127.0.0.1:5000/v1/search?q=term&n=25"]
    assert search_urls("localhost/a&b", 0, config) == ["http://localhost/v1/search?q=a%26b&n=25"]
    assert search_urls("[::1]:5000/x", 0, config) == ["http://[::1]:5000/v1/search?q=x&n=25"]
    assert search_urls("registry.example.com/team", 5, config) == [
        "https://registry.example.com/v1/search?q=team&n=5"
    ]
    assert search_urls("insecure.example/x", 0, config) == [
        "https://insecure.example/v1/search?q=x&n=25",
        "http://insecure.example/v1/search?q=x&n=25",
    ]
    # Hub mirrors are for pulls: search never goes there.
    mirrored = ClientConfig(registry_mirrors=("https://mirror.example",))
    assert search_urls("busybox", 0, mirrored) == ["https://index.docker.io/v1/search?q=busybox&n=25"]


def test_limits_and_scheme() -> None:
    assert check_limit(0) == 25
    assert check_limit(1) == 1
    assert check_limit(100) == 100
    for bad in (-1, 101, 1000):
        with pytest.raises(SearchError) as info:
            check_limit(bad)
        assert str(info.value) == f"limit {bad} is outside the range of [1, 100]"
    with pytest.raises(SearchError) as scheme:
        resolve_term("https://example.com/foo")
    assert str(scheme.value) == (
        "invalid repository name: repository name (https://example.com/foo) should not have a scheme"
    )


# ---------------------------------------------------------------------------- the JSON answer


def test_parse_hub_format() -> None:
    doc = {
        "num_results": 3,
        "num_pages": 1,
        "page": 1,
        "page_size": 25,
        "query": "busybox",
        "results": HUB_DOC,
    }
    parsed = parse_search_results(json.dumps(doc).encode())
    assert parsed.query == "busybox" and parsed.num_results == 3
    assert [r.name for r in parsed.results] == [r["name"] for r in HUB_DOC]  # the registry's order
    assert parsed.results[0] == SearchResult("busybox", "Busybox base image.", 3000, True, False)
    assert parsed.results[1].is_automated is True


def test_parse_is_lenient_like_go() -> None:
    parsed = parse_search_results(
        b'{"results":[{"name":"a","description":null,"star_count":null,"extra":1},null],"query":null}'
    )
    assert parsed.results == (SearchResult("a"), SearchResult(""))
    assert parse_search_results(b"{}").results == ()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "EOF"),
        (b"<html>", "invalid JSON"),
        (b"[]", "json: cannot unmarshal array into Go value of type registry.SearchResults"),
        (b'{"results":{}}', "cannot unmarshal object into Go struct field SearchResults.results"),
        (b'{"results":[{"star_count":"5"}]}', "cannot unmarshal string into Go struct field SearchResult.results.star_count of type int"),
        (b'{"results":[{"is_official":1}]}', "of type bool"),
    ],
)  # fmt: skip
def test_parse_errors(body: bytes, reason: str) -> None:
    with pytest.raises(SearchError) as info:
        parse_search_results(body)
    assert str(info.value).startswith("error decoding registry search results: ")
    assert reason in str(info.value)


# ---------------------------------------------------------------------------- output


def test_table_matches_docker_reference() -> None:
    """The example table of the reference, with today's `…` in place of `...`."""
    results = results_of(
        [
            {"name": "busybox", "description": "Busybox base image.", "star_count": 325, "is_official": True},
            {"name": "radial/busyboxplus", "description": LONG_ASCII, "star_count": 8},
        ]
    )
    assert render_results(results).split("\n") == [
        "NAME                 DESCRIPTION                                     STARS     OFFICIAL",
        "busybox              Busybox base image.                             325       [OK]",
        "radial/busyboxplus   Full-chain, Internet enabled, busybox made f…   8         ",
        "",
    ]


def test_table_truncation_wide_characters_and_newlines() -> None:
    lines = render_results(results_of(HUB_DOC)).split("\n")
    # Descriptions: ASCII cut to 44 + `…`; Japanese (2 cells each) cut to 22 characters + `…`;
    # 43 x then a wide character that would cross cell 44: cut before it; newlines are spaces.
    assert lines == [
        "NAME                  DESCRIPTION                                     STARS     OFFICIAL",
        "busybox               Busybox base image.                             3000      [OK]",
        "radial/busyboxplus    Full-chain, Internet enabled, busybox made f…   8         ",
        "alice/nihongo         日本語の説明文です。とても長い説明文がここに…                         12        ",
        "bob/multi-line        line one line two  line three                   0         ",
        "carol/mixed-busybox   xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…    150       ",
        "",
    ]


def test_no_trunc_table() -> None:
    lines = render_results(results_of(HUB_DOC[1:4]), "", trunc=False).split("\n")
    width = len(LONG_ASCII) + 3
    assert lines == [
        "NAME                 " + "DESCRIPTION".ljust(width) + "STARS     OFFICIAL",
        "radial/busyboxplus   " + LONG_ASCII.ljust(width) + "8         ",
        "alice/nihongo        " + WIDE.ljust(width) + "12        ",
        "bob/multi-line       " + "line one line two  line three".ljust(width) + "0         ",
        "",
    ]


def test_empty_results_print_the_header_only() -> None:
    assert render_results([]) == "NAME      DESCRIPTION   STARS     OFFICIAL\n"
    assert render_results([], "{{.Name}}") == ""


def test_json_format_values_are_strings() -> None:
    out = render_results(results_of(HUB_DOC[:2]), "json").split("\n")
    assert out == [
        '{"Description":"Busybox base image.","IsOfficial":"true","Name":"busybox","StarCount":"3000"}',
        '{"Description":"Full-chain, Internet enabled, busybox made f…","IsOfficial":"false",'
        '"Name":"radial/busyboxplus","StarCount":"8"}',
        "",
    ]
    full = json.loads(render_results(results_of(HUB_DOC[1:2]), "json", trunc=False))
    assert full["Description"] == LONG_ASCII


def test_templates() -> None:
    results = results_of(HUB_DOC[:2])
    assert render_results(results, "{{.Name}}: {{.StarCount}}") == "busybox: 3000\nradial/busyboxplus: 8\n"
    assert render_results(results, "{{.Name}}\t{{.IsOfficial}}") == "busybox\t[OK]\nradial/busyboxplus\t\n"
    assert render_results(results, "table {{.Name}}\t{{.StarCount}}") == (
        "NAME                 STARS\nbusybox              3000\nradial/busyboxplus   8\n"
    )
    assert render_results(results, "table") == render_results(results, DEFAULT_TABLE)
    assert render_results(results, "{{json .Name}}") == '"busybox"\n"radial/busyboxplus"\n'
    with pytest.raises(CliError) as info:
        render_results(results, "{{.IsAutomated}}")  # removed from docker in v28.2
    assert "can't evaluate field IsAutomated in type *registry.searchContext" in str(info.value)


# ---------------------------------------------------------------------------- filters


def test_filter_parsing_and_checks() -> None:
    args = parse_filter_flags(["stars=3", " STARS = 10 ", "is-official=true", "stars=3", ""])
    assert args == {"stars": ["3", "10"], "is-official": ["true"]}
    assert search_filters(args) == SearchFilters(official=True, min_stars=10)
    assert search_filters({"is-official": ["0"]}).official is False
    assert search_filters({"is-official": ["true", "maybe"]}).official is True  # as moby does
    assert search_filters({"is-automated": ["true"], "is-official": ["bad"]}).matches_nothing


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["foo=bar"], "invalid filter 'foo'"),
        (["stars=abc"], "invalid filter 'stars=abc': strconv.Atoi: parsing \"abc\": invalid syntax"),
        (["stars=1.5"], "invalid filter 'stars=1.5': strconv.Atoi: parsing \"1.5\": invalid syntax"),
        (["stars="], "invalid filter 'stars=': strconv.Atoi: parsing \"\": invalid syntax"),
        (["stars=99999999999999999999"], 'invalid filter \'stars=99999999999999999999\': strconv.Atoi: parsing "99999999999999999999": value out of range'),
        (["is-official=maybe"], "invalid filter 'is-official=[maybe]'"),
        (["is-official=true", "is-official=false"], "invalid filter 'is-official=[true false]'"),
        (["is-official=TRUE"], "invalid filter 'is-official=[TRUE]'"),
        (["is-automated=yes"], "invalid filter 'is-automated=[yes]'"),
    ],
)  # fmt: skip
def test_filter_errors(flags: list[str], message: str) -> None:
    with pytest.raises(CliError) as info:
        search_filters(parse_filter_flags(flags))
    assert info.value.format_message() == message


def test_filters_apply_after_fetch_in_order() -> None:
    results = results_of(HUB_DOC)
    assert [r.name for r in apply_filters(results, SearchFilters(min_stars=10))] == [
        "busybox",
        "alice/nihongo",
        "carol/mixed-busybox",
    ]
    assert [r.name for r in apply_filters(results, SearchFilters(official=True))] == ["busybox"]
    kept = apply_filters(results, SearchFilters(official=False, min_stars=100))
    assert [r.name for r in kept] == ["carol/mixed-busybox"]
    assert apply_filters(results, SearchFilters(automated=True)) == []
    assert len(apply_filters(results, SearchFilters(automated=False))) == len(results)


def test_go_integers() -> None:
    assert parse_go_int("25") == 25
    assert parse_go_int("+7") == 7
    assert parse_go_int("-1") == -1
    assert parse_go_int("0x10") == 16
    assert parse_go_int("010") == 8
    assert parse_go_int("0") == 0
    for bad in ("abc", "", " 5", "1e3", "٣"):
        with pytest.raises(ValueError, match="invalid syntax"):
            parse_go_int(bad)


# ---------------------------------------------------------------------------- the command


def test_search_a_registry(cb: Any, fake_registry: type[FakeSearchRegistry]) -> None:
    registry = fake_registry(HUB_DOC)
    result = run_search(f"{registry.host}/busybox")
    assert result.exit_code == 0, result.output
    assert result.stdout.split("\n") == [
        "NAME                  DESCRIPTION                                     STARS     OFFICIAL",
        "busybox               Busybox base image.                             3000      [OK]",
        "radial/busyboxplus    Full-chain, Internet enabled, busybox made f…   8         ",
        "carol/mixed-busybox   xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…    150       ",
        "",
    ]
    [(query, headers)] = registry.searches()
    assert query == {"q": ["busybox"], "n": ["25"]}
    assert headers.get("X-Docker-Token") == "true"
    assert "Authorization" not in headers


def test_limit_and_filters_on_the_wire(cb: Any, fake_registry: type[FakeSearchRegistry]) -> None:
    registry = fake_registry(HUB_DOC)
    limited = run_search("--limit", "2", "--format", "{{.Name}}", f"{registry.host}/busybox")
    assert limited.stdout == "busybox\nradial/busyboxplus\n"
    # Filtering happens after fetching `n` results: fewer than --limit may remain.
    filtered = run_search(
        "--limit", "2", "-f", "stars=10", "--format", "{{.Name}}", f"{registry.host}/busybox"
    )
    assert filtered.stdout == "busybox\n"
    official = run_search("-f", "is-official=false", "--format", "{{.Name}}", f"{registry.host}/busybox")
    assert official.stdout == "radial/busyboxplus\ncarol/mixed-busybox\n"
    assert [q["n"] for q, _ in registry.searches()] == [["2"], ["2"], ["25"]]


def test_is_automated_warns_and_true_asks_nothing(cb: Any, fake_registry: type[FakeSearchRegistry]) -> None:
    registry = fake_registry(HUB_DOC)
    result = run_search("-f", "is-automated=true", f"{registry.host}/busybox")
    assert result.exit_code == 0
    assert result.stderr == AUTOMATED_WARNING + "\n"
    assert result.stdout == "NAME      DESCRIPTION   STARS     OFFICIAL\n"
    assert registry.searches() == []
    kept = run_search("-f", "is-automated=false", "--format", "{{.Name}}", f"{registry.host}/radial")
    assert kept.stdout == "radial/busyboxplus\n"  # is_automated is no longer trusted


def test_json_and_no_trunc_from_a_registry(cb: Any, fake_registry: type[FakeSearchRegistry]) -> None:
    registry = fake_registry(HUB_DOC)
    out = run_search("--no-trunc", "--format", "json", f"{registry.host}/nihongo")
    assert json.loads(out.stdout) == {
        "Description": WIDE,
        "IsOfficial": "false",
        "Name": "alice/nihongo",
        "StarCount": "12",
    }
    multi = run_search("--no-trunc", "--format", "{{.Description}}", f"{registry.host}/multi")
    assert multi.stdout == "line one line two  line three\n"


def test_registry_without_search(cb: Any, fake_registry: type[FakeSearchRegistry]) -> None:
    registry = fake_registry(HUB_DOC, FakeOptions(has_search=False))
    result = cb.run("search", f"{registry.host}/busybox")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == "Error: unexpected status code 404\n"


def test_unreachable_registry(cb: Any) -> None:
    port = free_port()
    result = cb.run("search", f"127.0.0.1:{port}/busybox")
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith(f'Error: Get "http://127.0.0.1:{port}/')
    assert lines[0].endswith(f"dial tcp 127.0.0.1:{port}: connect: connection refused")


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compressed_answer(cb: Any, fake_registry: type[FakeSearchRegistry], encoding: str) -> None:
    """The client asks for no encoding; a registry that compresses anyway is still understood."""
    registry = fake_registry(HUB_DOC, FakeOptions(compress=encoding))
    result = run_search("--format", "{{.Name}}", f"{registry.host}/busybox")
    assert result.exit_code == 0, result.output
    assert result.stdout == "busybox\nradial/busyboxplus\ncarol/mixed-busybox\n"
    assert registry.searches()[0][1]["Accept-Encoding"] == "identity"


def test_bad_answer_is_one_line(cb: Any, fake_registry: type[FakeSearchRegistry]) -> None:
    registry = fake_registry(HUB_DOC, FakeOptions(raw_body=b"<html>oops</html>"))
    result = cb.run("search", f"{registry.host}/busybox")
    assert result.returncode == 1
    assert result.stderr.startswith("Error: error decoding registry search results: ")
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["--limit", "0"], None, 0),
        (["--limit", "101"], "Error: limit 101 is outside the range of [1, 100]\n", 1),
        (["--limit", "-1"], "Error: limit -1 is outside the range of [1, 100]\n", 1),
        (["--limit", "abc"], 'Error: invalid argument "abc" for "--limit" flag: strconv.ParseInt: parsing "abc": invalid syntax\nSee \'cargobay search --help\'.\n', 125),
        (["-f", "foo"], 'Error: invalid argument "foo" for "-f, --filter" flag: bad format of filter (expected name=value)\nSee \'cargobay search --help\'.\n', 125),
        (["-f", "foo=bar"], "Error: invalid filter 'foo'\n", 1),
        (["-f", "stars=abc"], "Error: invalid filter 'stars=abc': strconv.Atoi: parsing \"abc\": invalid syntax\n", 1),
    ],
)  # fmt: skip
def test_flag_errors(
    cb: Any, fake_registry: type[FakeSearchRegistry], args: list[str], message: str | None, code: int
) -> None:
    registry = fake_registry(HUB_DOC)
    result = run_search(*args, f"{registry.host}/busybox")
    assert result.exit_code == code
    if message is not None:
        assert result.stderr == message
        assert registry.searches() == []
    else:
        assert [q["n"] for q, _ in registry.searches()] == [["25"]]


def test_scheme_is_refused_before_any_request(cb: Any) -> None:
    result = run_search("http://127.0.0.1:1/busybox")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: invalid repository name: repository name (http://127.0.0.1:1/busybox) should not have a scheme\n"
    )


# ---------------------------------------------------------------------------- credentials


def basic_auth(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


PRIVATE = [{"name": "alice/secret-busybox", "description": "private", "star_count": 1, "is_official": False}]


def test_bearer_anonymous_token_scoped_for_search(cb: Any, fake_registry: type[FakeSearchRegistry]) -> None:
    registry = fake_registry(HUB_DOC, FakeOptions(auth="bearer", private=PRIVATE))
    result = run_search("--format", "{{.Name}}", f"{registry.host}/busybox")
    assert result.exit_code == 0, result.output
    assert "alice/secret-busybox" not in result.stdout
    assert result.stdout.startswith("busybox\n")
    [token_request] = registry.token_requests
    assert token_request["scope"] == ["registry:catalog:search"]
    assert token_request["service"] == "fake-search"
    assert token_request["basic"] is False and token_request["account"] is None


def test_bearer_with_stored_credentials(cb: Any, fake_registry: type[FakeSearchRegistry]) -> None:
    registry = fake_registry(HUB_DOC, FakeOptions(auth="bearer", private=PRIVATE))
    cb.write_docker_config({"auths": {registry.host: {"auth": basic_auth("alice", "s3cret")}}})
    result = cb.run("search", "--format", "{{.Name}}", f"{registry.host}/busybox")
    assert result.returncode == 0, result.stderr
    assert "alice/secret-busybox\n" in result.stdout
    assert registry.token_requests[-1]["basic"] is True
    assert registry.token_requests[-1]["account"] == "alice"
    assert registry.token_requests[-1]["scope"] == ["registry:catalog:search"]
    assert all(h.get("Authorization", "").startswith("Bearer ") for _, h in registry.searches())


def test_bearer_challenge_on_search_only(cb: Any, fake_registry: type[FakeSearchRegistry]) -> None:
    """/v2/ is open; the search itself answers 401 with a Bearer challenge."""
    registry = fake_registry(HUB_DOC, FakeOptions(auth="bearer-search", private=PRIVATE))
    cb.write_docker_config({"auths": {registry.host: {"auth": basic_auth("alice", "s3cret")}}})
    result = run_search("--format", "{{.Name}}", f"{registry.host}/secret")
    assert result.exit_code == 0, result.output
    assert result.stdout == "alice/secret-busybox\n"
    searches = registry.searches()
    assert len(searches) == 2
    assert "Authorization" not in searches[0][1]
    assert searches[1][1]["Authorization"].startswith("Bearer ")
    assert "registry:catalog:search" in registry.token_requests[-1]["scope"]


def test_identity_token_uses_the_refresh_grant(cb: Any, fake_registry: type[FakeSearchRegistry]) -> None:
    registry = fake_registry(HUB_DOC, FakeOptions(auth="bearer", private=PRIVATE))
    cb.write_docker_config(
        {"auths": {registry.host: {"auth": basic_auth("alice", ""), "identitytoken": "refresh-alice"}}}
    )
    result = run_search("--format", "{{.Name}}", f"{registry.host}/secret")
    assert result.exit_code == 0, result.output
    assert result.stdout == "alice/secret-busybox\n"
    [grant] = registry.token_requests
    assert grant["method"] == "POST"
    assert grant["grant_type"] == "refresh_token"
    assert grant["scope"] == "registry:catalog:search"


def test_wrong_password(cb: Any, fake_registry: type[FakeSearchRegistry]) -> None:
    registry = fake_registry(HUB_DOC, FakeOptions(auth="bearer"))
    cb.write_docker_config({"auths": {registry.host: {"auth": basic_auth("alice", "nope")}}})
    result = cb.run("search", f"{registry.host}/busybox")
    assert result.returncode == 1
    assert result.stderr == "Error: unauthorized: incorrect username or password\n"


def test_basic_auth(cb: Any, fake_registry: type[FakeSearchRegistry]) -> None:
    registry = fake_registry(HUB_DOC, FakeOptions(auth="basic", private=PRIVATE))
    anonymous = run_search(f"{registry.host}/busybox")
    assert anonymous.exit_code == 1
    assert anonymous.stderr == "Error: unexpected status code 401\n"
    cb.write_docker_config({"auths": {registry.host: {"auth": basic_auth("alice", "s3cret")}}})
    result = run_search("--format", "{{.Name}}", f"{registry.host}/secret")
    assert result.exit_code == 0, result.output
    assert result.stdout == "alice/secret-busybox\n"
    expected = "Basic " + basic_auth("alice", "s3cret")
    assert registry.searches()[-1][1]["Authorization"] == expected


def test_podman_auth_file_is_used_too(cb: Any, fake_registry: type[FakeSearchRegistry]) -> None:
    registry = fake_registry(HUB_DOC, FakeOptions(auth="basic", private=PRIVATE))
    auth_file = cb.env["REGISTRY_AUTH_FILE"]
    with open(auth_file, "w") as fh:
        json.dump({"auths": {registry.host: {"auth": basic_auth("alice", "s3cret")}}}, fh)
    result = run_search("--format", "{{.Name}}", f"{registry.host}/secret")
    assert result.stdout == "alice/secret-busybox\n"


def test_broken_credential_helper_means_anonymous(cb: Any, fake_registry: type[FakeSearchRegistry]) -> None:
    """docker's ResolveAuthConfig ignores a failing store; the search goes on without credentials."""
    registry = fake_registry(HUB_DOC)
    cb.write_docker_config({"credsStore": "does-not-exist-anywhere"})
    result = run_search("--format", "{{.Name}}", f"{registry.host}/busybox")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("busybox\n")


def test_cli_import_stays_light() -> None:
    code = "import sys, cargobay.cli.search; print('aiohttp' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------------------- against the hub


@pytest.fixture(scope="module")
def tiny_image(tmp_path_factory: pytest.TempPathFactory, make_oci_image: Callable[..., Any]) -> Any:
    return make_oci_image(tmp_path_factory.mktemp("search-image"), layers=1, layer_size=256)


def hub_push(skopeo: Any, image: Any, host: str, repository: str, creds: str | None = None) -> None:
    args = ["copy", "--dest-tls-verify=false"]
    if creds:
        args += ["--dest-creds", creds]
    skopeo(*args, image.ref, f"docker://{host}/{repository}:v1")


def test_search_the_hub(cb: Any, hub_url: str, skopeo: Any, tiny_image: Any) -> None:
    """An open hub (CARGOBAY_AUTH=none): what is pushed is found, in docker's table."""
    word = f"srch{uuid.uuid4().hex[:8]}"
    for repository in (f"{word}/alpha", f"{word}/beta", f"library/{word}"):
        hub_push(skopeo, tiny_image, hub_url, repository)
    result = cb.run("search", f"{hub_url}/{word}")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split("\n")
    # `library/WORD` is official and named without `library/`: an exact name, ranked first.
    # Columns: NAME 21 (18 characters + 3), DESCRIPTION 14 (all empty: the header + 3), STARS 10.
    assert lines[:2] == [
        "NAME                 DESCRIPTION   STARS     OFFICIAL",
        word + " " * 9 + " " * 14 + "0" + " " * 9 + "[OK]",
    ]
    assert sorted(lines[2:4]) == [
        f"{word}/alpha" + " " * 3 + " " * 14 + "0" + " " * 9,
        f"{word}/beta" + " " * 4 + " " * 14 + "0" + " " * 9,
    ]
    assert lines[4:] == [""]
    limited = cb.run("search", "--limit", "1", "--format", "json", f"{hub_url}/{word}")
    assert limited.returncode == 0, limited.stderr
    assert json.loads(limited.stdout) == {
        "Description": "",
        "IsOfficial": "true",
        "Name": word,
        "StarCount": "0",
    }
    official = cb.run("search", "-f", "is-official=false", "--format", "{{.Name}}", f"{hub_url}/{word}")
    assert sorted(official.stdout.split()) == [f"{word}/alpha", f"{word}/beta"]
    nothing = cb.run("search", f"{hub_url}/{uuid.uuid4().hex}")
    assert nothing.returncode == 0
    assert nothing.stdout == "NAME      DESCRIPTION   STARS     OFFICIAL\n"


HUB_PASSWORD = "Sup3r-secret-pw"


def test_search_a_token_hub_with_stored_credentials(
    cb: Any, start_hub: Callable[..., Any], skopeo: Any, tiny_image: Any
) -> None:
    """Private repositories show to their owner only: the stored password gets a search token."""
    hub = start_hub(env={"CARGOBAY_AUTH": "token", "CARGOBAY_DEFAULT_VISIBILITY": "private"}, workers=1)
    owner = f"u{uuid.uuid4().hex[:10]}"
    body = {"username": owner, "email": f"{owner}@example.com", "password": HUB_PASSWORD}
    answer = request(
        "POST",
        f"{hub.base_url}/api/users",
        headers={"Content-Type": "application/json"},
        data=json.dumps(body).encode(),
    )
    assert answer.status == 201, answer.body
    hub_push(skopeo, tiny_image, hub.url, f"{owner}/hidden", f"{owner}:{HUB_PASSWORD}")

    anonymous = cb.run("search", "--format", "{{.Name}}", f"{hub.url}/hidden")
    assert anonymous.returncode == 0, anonymous.stderr
    assert anonymous.stdout == ""

    cb.write_docker_config({"auths": {hub.url: {"auth": basic_auth(owner, HUB_PASSWORD)}}})
    owned = cb.run("search", "--format", "{{.Name}}\t{{.IsOfficial}}", f"{hub.url}/hidden")
    assert owned.returncode == 0, owned.stderr
    assert owned.stdout == f"{owner}/hidden\t\n"

    # `cargobay login` stores the hub's refresh token as an identity token: search trades it
    # (OAuth2 refresh grant) for a token scoped registry:catalog:search.
    cb.write_docker_config({})
    login = subprocess.run(
        [sys.executable, "-m", "cargobay", "login", "-u", owner, "--password-stdin", hub.url],
        input=HUB_PASSWORD,
        env=cb.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert login.returncode == 0, login.stderr
    stored = json.loads((Path(cb.env["DOCKER_CONFIG"]) / "config.json").read_text())
    assert stored["auths"][hub.url].get("identitytoken")
    again = cb.run("search", "--format", "{{.Name}}", f"{hub.url}/hidden")
    assert again.returncode == 0, again.stderr
    assert again.stdout == f"{owner}/hidden\n"

    cb.write_docker_config({"auths": {hub.url: {"auth": basic_auth(owner, "wrong-password")}}})
    refused = cb.run("search", f"{hub.url}/hidden")
    assert refused.returncode == 1
    assert refused.stderr.startswith("Error: unauthorized: ")
    assert len(refused.stderr.splitlines()) == 1
