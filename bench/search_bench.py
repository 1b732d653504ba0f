"""Search latency on a hub holding 100,000 repositories, on SQLite and (when it answers) PostgreSQL.

For each database it:
  1. fills a fresh hub database through the metadata layer (`CatalogueStore.add_repositories`,
     batched inserts): 100,000 repositories named like real ones (Zipf-distributed words, so
     common words match thousands of repositories and rare ones a handful), 150 official images,
     ~60% with a short description, ~3% private, pull counts spread over six orders of
     magnitude, and ~20,000 stars from 200 users; then refreshes planner statistics;
  2. starts `cargobay serve` (2 workers, token auth) on that database;
  3. sends a few hundred varied queries to GET /v1/search, one at a time over a kept-alive
     connection (exact names, name parts, common and rare words, word prefixes, two and three
     words, 1-2 character queries, later pages, no-match and odd input, the empty query), once to
     warm up and then --rounds times measured; prints p50/p90/p99/max overall and per kind;
  4. times, in this process through `CatalogueStore.search` as an anonymous visitor (no HTTP),
     what the web site asks that /v1/search cannot: the home page's listings (official images,
     most stars, most pulls, recently updated: empty query, 10 results) and searches with
     `sort` stars / pulls / updated, `official_only` and `min_stars` (same kinds of query).

    python bench/search_bench.py [--repos 100000] [--rounds 2] [--postgres URL | --no-postgres]
                                 [--listings-only]

PostgreSQL: a temporary database is created on --postgres (default
postgresql://postgres@127.0.0.1:5432/postgres) and dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

import aiohttp

from cargobay.metadata.accounts import AccountStore
from cargobay.metadata.catalogue import CatalogueStore, NewRepository, SearchSort
from cargobay.metadata.engine import create_engines, create_schema
from cargobay.registry.search import normalise_query


def _words(text: str) -> list[str]:
    return text.split()


TECH = _words(
    "nginx redis postgres mysql mariadb mongo alpine ubuntu debian fedora centos python node golang "
    "java openjdk rust ruby php perl dotnet elixir erlang haskell scala kotlin swift gcc clang busybox "
    "httpd tomcat jetty traefik haproxy envoy caddy consul vault etcd zookeeper kafka rabbitmq nats "
    "memcached cassandra elasticsearch kibana logstash grafana prometheus influxdb telegraf jenkins "
    "gitlab gitea drone sonarqube nexus registry minio ceph wordpress drupal joomla ghost nextcloud "
    "owncloud mediawiki keycloak sentry superset airflow spark hadoop flink jupyter tensorflow pytorch "
    "cuda opencv ffmpeg imagemagick selenium chrome firefox node-red mosquitto homeassistant pihole "
    "wireguard openvpn squid bind unbound coredns certbot letsencrypt vaultwarden bitwarden mattermost "
    "rocketchat matrix synapse jellyfin plex emby sonarr radarr lidarr transmission qbittorrent "
    "syncthing restic borg rclone duplicati portainer watchtower dozzle uptime kuma netdata zabbix nagios"
)
COMMON = _words(
    "app api web server service worker db data test demo dev prod base image build tools cli agent proxy "
    "cache queue stream backend frontend admin auth gateway monitor metrics logs docs bot scheduler "
    "runner exporter operator controller sidecar plugin sdk lib core utils config deploy ci cd"
)
SYLLABLES = _words("ka lo mi ra te zu ne po si va do re fa la ti xo qu be ge ha ju ny ow py")
DESCRIPTION_WORDS = _words(
    "a an the for with and of in on to from small fast secure minimal official image container "
    "based built running simple lightweight production ready docker kubernetes cloud native "
    "open source tool server client service application database monitoring development testing "
    "example demo personal project my our team company internal experimental"
)


def zipf_choice(rng: random.Random, items: list[str], exponent: float = 0.8) -> str:
    # P(rank k) ~ 1/k^s, drawn by inverse transform on a precomputed cumulative table
    table = _ZIPF_TABLES.get((id(items), exponent))
    if table is None:
        weights = [1 / (k + 1) ** exponent for k in range(len(items))]
        total, acc, table = sum(weights), 0.0, []
        for w in weights:
            acc += w / total
            table.append(acc)
        _ZIPF_TABLES[(id(items), exponent)] = table
    x = rng.random()
    lo, hi = 0, len(table) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if table[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return items[lo]


_ZIPF_TABLES: dict[tuple[int, float], list[float]] = {}


def make_vocabulary(rng: random.Random, size: int = 4000) -> list[str]:
    words = set(TECH + COMMON)
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    ordered = COMMON + TECH + sorted(words - set(TECH) - set(COMMON))
    rng.shuffle(ordered)  # frequency rank independent of kind
    return ordered


def make_repositories(count: int, seed: int = 5) -> tuple[list[NewRepository], list[str]]:
    rng = random.Random(seed)
    vocabulary = make_vocabulary(rng)
    namespaces = [f"{zipf_choice(rng, vocabulary)}{rng.randint(1, 9999)}" for _ in range(20000)]
    seen: set[str] = set()
    repos: list[NewRepository] = []
    now = time.time()
    for word in TECH[:150]:
        name = f"library/{word}"
        seen.add(name)
        repos.append(
            NewRepository(
                name, f"Official {word} image", pull_count=rng.randint(10**6, 10**9), last_pushed_at=now
            )
        )
    while len(repos) < count:
        namespace = zipf_choice(rng, namespaces, 0.6)
        parts = [zipf_choice(rng, vocabulary) for _ in range(rng.choice((1, 1, 2, 2, 2, 3)))]
        name = f"{namespace}/{'-'.join(parts)}"
        if name in seen:
            continue
        seen.add(name)
        description = ""
        if rng.random() < 0.6:
            words = [rng.choice(DESCRIPTION_WORDS) for _ in range(rng.randint(2, 6))]
            words += [zipf_choice(rng, vocabulary) for _ in range(rng.randint(1, 4))]
            rng.shuffle(words)
            description = " ".join(words).capitalize()[:100]
        repos.append(
            NewRepository(
                name,
                description,
                private=rng.random() < 0.03,
                pull_count=int(10 ** rng.uniform(0, 6)),
                last_pushed_at=now - rng.uniform(0, 3e7),
            )
        )
    return repos, vocabulary


def make_queries(
    repos: list[NewRepository], vocabulary: list[str], rng: random.Random
) -> list[tuple[str, str, int]]:
    """(kind, q, page) triples."""
    public = [r.name for r in repos if not r.private]
    queries: list[tuple[str, str, int]] = []

    def add(kind: str, q: str, page: int = 1) -> None:
        queries.append((kind, q, page))

    for name in rng.sample(public, 40):
        add("exact name", name)
    for name in rng.sample(public, 30):
        add("name part", name.split("/", 1)[1])
    for word in vocabulary[:10] + rng.sample(vocabulary[:60], 20):
        add("common word", word)
    for word in rng.sample(vocabulary[1000:], 40):
        add("rare word", word)
    for word in rng.sample([w for w in vocabulary if len(w) >= 5], 40):
        add("word prefix", word[: rng.randint(3, 4)])
    for _ in range(30):
        add("two words", f"{rng.choice(vocabulary[:200])} {rng.choice(vocabulary[:400])}")
    for _ in range(10):
        add("three words", " ".join(rng.choice(vocabulary[:300]) for _ in range(3)))
    for q in ["a", "k", "z", "go", "db", "ng", "py", "x1", "re", "ml"]:
        add("1-2 chars", q)
    for word in rng.sample(vocabulary[:30], 15):
        add("page 2-5", word, rng.randint(2, 5))
    for q in ["zzqxv", "no-such-repository-anywhere", "qwertyuiop", "xkcd1234", "foo/bar/baz"]:
        add("no match", q)
    for q in ["%", "_", "'", '"', "\\", "a%b", "AND", "*", "x" * 1000, "日本語", "' OR 1=1 --", '"nginx"']:
        add("odd input", q)
    add("empty", "")
    add("empty", "", 3)
    return queries


async def fill(url: str, repos: list[NewRepository], vocabulary: list[str], rng: random.Random) -> None:
    engines = create_engines(url)
    try:
        await create_schema(engines)
        catalogue = CatalogueStore(engines)
        started = time.perf_counter()
        await catalogue.add_repositories(repos)
        accounts = AccountStore(engines)
        names = [r.name for r in repos]
        popular = sorted(repos, key=lambda r: -r.pull_count)[:5000]
        for i in range(200):
            account = await accounts.create_account(f"stargazer{i:03d}", "user", None, None)
            chosen = rng.sample([r.name for r in popular], 60) + rng.sample(names, 40)
            await catalogue.add_stars(account.id, chosen)
        await catalogue.analyze()
        print(
            f"  filled {len(repos):,} repositories and 20,000 stars in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
    finally:
        await engines.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def wait_ready(base: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(f"{base}/v1/_ping") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the hub did not start")
            await asyncio.sleep(0.2)


async def measure(base: str, queries: list[tuple[str, str, int]], rounds: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = defaultdict(list)
    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(connector=connector) as session:
        for round_ in range(rounds + 1):
            for kind, q, page in queries:
                params = {"q": q, "n": "25", "page": str(page)}
                started = time.perf_counter()
                async with session.get(f"{base}/v1/search", params=params) as response:
                    body = await response.json()
                elapsed = time.perf_counter() - started
                if response.status != 200:
                    raise RuntimeError(f"{q!r}: {response.status} {body}")
                if round_ > 0:  # the first round warms caches up
                    timings[kind].append(elapsed)
                    timings["all"].append(elapsed)
    return timings


# (kind, q, page, official_only, min_stars, sort): what the web site's pages ask.
Listing = tuple[str, str, int, bool, int, SearchSort]


def make_listings(queries: list[tuple[str, str, int]], rng: random.Random) -> list[Listing]:
    listings: list[Listing] = [
        ("home: official", "", 1, True, 0, "stars"),
        ("home: stars", "", 1, False, 0, "stars"),
        ("home: pulls", "", 1, False, 0, "pulls"),
        ("home: updated", "", 1, False, 0, "updated"),
    ] * 10
    kinds = ["common word", "rare word", "word prefix", "two words", "1-2 chars", "name part", "page 2-5"]
    sample = [q for q in queries if q[0] in kinds]
    orders: list[SearchSort] = ["stars", "pulls", "updated"]
    for order in orders:
        for _, q, page in rng.sample(sample, 60):
            listings.append((f"sort {order}", q, page, False, 0, order))
        listings += [(f"sort {order}", "", page, False, 0, order) for page in (2, 5, 50)]
    for _, q, _page in rng.sample(sample, 30):
        listings.append(("official_only", q, 1, True, 0, rng.choice(["relevance", *orders])))
    for _, q, page in rng.sample(sample, 60):
        order = rng.choice(["relevance", "relevance", *orders])
        listings.append(("min_stars", q, page, False, rng.choice([1, 2, 5, 20, 100]), order))
    listings += [("min_stars", "", 1, False, n, "pulls") for n in (1, 5, 20, 100)]
    return listings


async def measure_listings(url: str, listings: list[Listing], rounds: int) -> dict[str, list[float]]:
    """In this process, through the metadata layer, as an anonymous visitor (10 results a page)."""
    timings: dict[str, list[float]] = defaultdict(list)
    engines = create_engines(url)
    try:
        catalogue = CatalogueStore(engines)
        for round_ in range(rounds + 1):
            for kind, q, page, official_only, min_stars, sort in listings:
                query, words = normalise_query(q)
                started = time.perf_counter()
                await catalogue.search(
                    query,
                    words,
                    [],
                    limit=10,
                    offset=(page - 1) * 10,
                    official_only=official_only,
                    min_stars=min_stars,
                    sort=sort,
                )
                elapsed = time.perf_counter() - started
                if round_ > 0:
                    timings[kind].append(elapsed)
                    timings["all"].append(elapsed)
    finally:
        await engines.dispose()
    return timings


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def report(label: str, timings: dict[str, list[float]], what: str = "GET /v1/search") -> None:
    print(f"\n{label}: {what} latency (ms), {len(timings['all'])} requests")
    print(f"  {'kind':<16}{'n':>5}{'p50':>8}{'p90':>8}{'p99':>8}{'max':>8}")
    for kind in ["all", *sorted(k for k in timings if k != "all")]:
        values = timings[kind]
        print(
            f"  {kind:<16}{len(values):>5}{statistics.median(values) * 1000:>8.1f}"
            f"{percentile(values, 0.9) * 1000:>8.1f}{percentile(values, 0.99) * 1000:>8.1f}"
            f"{max(values) * 1000:>8.1f}"
        )


def run_backend(label: str, url: str, data_dir: Path, args: argparse.Namespace) -> None:
    rng = random.Random(11)
    repos, vocabulary = make_repositories(args.repos)
    queries = make_queries(repos, vocabulary, rng)
    listings = make_listings(queries, random.Random(13))
    print(f"{label}: filling {url.split('@')[-1]}", flush=True)
    asyncio.run(fill(url, repos, vocabulary, rng))
    what = "CatalogueStore.search in process (web site listings and sorts)"
    report(label, asyncio.run(measure_listings(url, listings, args.rounds)), what)
    if args.listings_only:
        return
    port = free_port()
    env = {**os.environ, "CARGOBAY_DATABASE_URL": url, "CARGOBAY_AUTH": "token"}
    hub = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cargobay",
            "serve",
            "--listen",
            f"127.0.0.1:{port}",
            "--data-dir",
            str(data_dir),
            "--workers",
            "2",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        asyncio.run(wait_ready(base))
        report(label, asyncio.run(measure(base, queries, args.rounds)))
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(hub.pid, signal.SIGTERM)
        hub.wait(timeout=30)


async def _admin(url: str, statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repos", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2, help="measured passes over the queries")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--listings-only", action="store_true", help="skip the /v1/search timings")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cargobay-search-bench-") as tmp:
        sqlite_dir = Path(tmp) / "sqlite"
        sqlite_dir.mkdir()
        run_backend("SQLite", f"sqlite:///{sqlite_dir / 'hub.db'}", sqlite_dir, args)
        if args.no_postgres:
            return
        admin = args.postgres
        name = f"cargobay_search_bench_{uuid.uuid4().hex[:8]}"
        try:
            asyncio.run(_admin(admin, f'CREATE DATABASE "{name}"'))
        except Exception as exc:
            print(f"\nPostgreSQL: skipped ({type(exc).__name__}: {exc})")
            return
        try:
            pg_dir = Path(tmp) / "postgres"
            pg_dir.mkdir()
            run_backend("PostgreSQL", admin.rsplit("/", 1)[0] + f"/{name}", pg_dir, args)
        finally:
            asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
