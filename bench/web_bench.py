"""Server time of the hub's web pages on a hub holding 10,000 repositories (SQLite).

It:
  1. fills a fresh SQLite hub database through the metadata layer, like bench/search_bench.py
     (`CatalogueStore.add_repositories`, `add_stars`): --repos repositories named like real ones,
     125 official `library/*` images, ~60% with a short description, ~3% private, pull counts over
     six orders of magnitude, 20,000 stars from 200 users; plus the account `benchuser` (an
     administrator, made through `AccountService.sign_up`) owning 60 repositories, one of them
     `benchuser/webapp` with a ~20 KB markdown README; `library/nginx` gets a README too;
  2. starts `cargobay serve` (--workers, token auth, open registration) on it and pushes for
     real over the registry API (one Bearer token from /token): 100 tags into `benchuser/webapp`
     (90 single-platform images and 10 two-platform indexes) and 12 tags into `library/nginx`;
  3. measures each page (where a permanent redirect leads, for `/r/library/nginx`) with
     --requests sequential GETs over one kept-alive connection from this
     process (aiohttp on loopback), after --warmup unmeasured ones: time until the whole body has
     arrived; prints p50/p99/max per page, the body size, and p50/p99 of every `Server-Timing`
     metric the page sends; then, with --as-user, the same again logged in as benchuser (a
     session cookie from the /login form; /login itself is left out, it redirects a logged-in
     visitor).

Target: every page under 100 ms (p99) of server time.

    python bench/web_bench.py [--repos 10000] [--requests 200] [--warmup 20] [--workers 2]
                              [--as-user] [--json FILE] [--strict] [--keep]

--strict exits with status 3 when a page misses the target or does not answer 200; --keep keeps
the data dir and the hub's log (printed at the end).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import dataclasses
import hashlib
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import aiohttp
from search_bench import fill, free_port, make_repositories, percentile

from cargobay.config import load_settings
from cargobay.metadata.catalogue import NewRepository
from cargobay.server.app import build_hub

TARGET_MS = 100.0
USER = "benchuser"
PASSWORD = "Bench-S3cret-pass"
BIG_REPO = f"{USER}/webapp"
OFFICIAL = "library/nginx"
SEARCH_TERM = "redis"

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def pages() -> list[str]:
    return [
        "/",
        f"/search?q={SEARCH_TERM}",
        "/search?q=&sort=stars",
        f"/r/{BIG_REPO}",
        f"/r/{OFFICIAL}",
        f"/u/{USER}",
        "/login",
    ]


# --------------------------------------------------------------------------- content


def _words(text: str) -> list[str]:
    return text.split()


def make_readme(title: str, target_bytes: int = 20_000, seed: int = 3) -> str:
    """Markdown of about `target_bytes`: headings, paragraphs, lists, code, tables, links."""
    rng = random.Random(seed)
    words = _words(
        "container image runs the service with a small footprint configure environment variables "
        "volume port network build cache layer tag release stable secure default option example "
        "production deployment health check logs metrics upgrade compose kubernetes"
    )

    def sentence() -> str:
        text = " ".join(rng.choice(words) for _ in range(rng.randint(8, 18)))
        return text.capitalize() + "."

    parts = [f"# {title}\n", "![build](https://example.com/badge.svg) [docs](https://example.com/docs)\n"]
    section = 0
    while sum(len(p) for p in parts) < target_bytes:
        section += 1
        parts.append(f"## Section {section}: {rng.choice(words)} {rng.choice(words)}\n")
        parts.append(" ".join(sentence() for _ in range(rng.randint(3, 6))) + "\n")
        parts.append("".join(f"- **{rng.choice(words)}**: {sentence()}\n" for _ in range(rng.randint(3, 6))))
        parts.append(
            "```sh\n"
            f"docker run -d --name {rng.choice(words)} -p 8080:80 -e MODE={rng.choice(words)} {title}:latest\n"
            "```\n"
        )
        if section % 3 == 0:
            rows = "".join(
                f"| `{rng.choice(words).upper()}_{i}` | `{rng.choice(words)}` | {sentence()} |\n"
                for i in range(6)
            )
            parts.append("| variable | default | meaning |\n|---|---|---|\n" + rows)
        parts.append(f"See [{rng.choice(words)}](https://example.com/{section}) and `{rng.choice(words)}`.\n")
    return "\n".join(parts)


def extra_repositories() -> list[NewRepository]:
    now = time.time()
    rng = random.Random(17)
    repos = [
        NewRepository(
            BIG_REPO,
            "The bench's web application: 100 tags and a long README",
            full_description=make_readme("webapp"),
            pull_count=123_456,
            last_pushed_at=now,
        )
    ]
    for i in range(59):
        repos.append(
            NewRepository(
                f"{USER}/service-{i:02d}",
                f"Service number {i} of the bench user" if i % 3 else "",
                private=i % 10 == 0,
                pull_count=int(10 ** rng.uniform(0, 5)),
                last_pushed_at=now - rng.uniform(0, 3e7),
            )
        )
    return repos


async def make_admin(data_dir: Path, database_url: str) -> None:
    settings = load_settings(None, {"data_dir": data_dir, "database_url": database_url}, environ={})
    hub = build_hub(settings)
    try:
        await hub.accounts.sign_up(USER, f"{USER}@example.com", PASSWORD, is_admin=True)
    finally:
        await hub.close()


def seed_database(data_dir: Path, database_url: str, count: int) -> None:
    repos, vocabulary = make_repositories(count - 60)
    for index, repo in enumerate(repos):
        if repo.name == OFFICIAL:
            repos[index] = dataclasses.replace(repo, full_description=make_readme("nginx", 8_000, seed=9))
    repos += extra_repositories()
    print(f"filling {database_url}", flush=True)
    asyncio.run(fill(database_url, repos, vocabulary, random.Random(11)))
    asyncio.run(make_admin(data_dir, database_url))


# --------------------------------------------------------------------------- pushing


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Pusher:
    def __init__(self, session: aiohttp.ClientSession, base: str, token: str) -> None:
        self.session = session
        self.base = base
        self.headers = {"Authorization": f"Bearer {token}"}

    async def blob(self, repository: str, data: bytes) -> dict[str, Any]:
        digest = digest_of(data)
        url = f"{self.base}/v2/{repository}/blobs/uploads/?digest={digest}"
        headers = {**self.headers, "Content-Type": "application/octet-stream"}
        async with self.session.post(url, data=data, headers=headers) as response:
            if response.status != 201:
                raise RuntimeError(f"blob upload to {repository}: {response.status} {await response.text()}")
        return {"digest": digest, "size": len(data)}

    async def manifest(self, repository: str, reference: str | None, body: dict[str, Any]) -> dict[str, Any]:
        """PUT a manifest by tag, or by its digest when `reference` is None."""
        data = json.dumps(body).encode()
        media_type = str(body["mediaType"])
        url = f"{self.base}/v2/{repository}/manifests/{reference or digest_of(data)}"
        headers = {**self.headers, "Content-Type": media_type}
        async with self.session.put(url, data=data, headers=headers) as response:
            if response.status != 201:
                raise RuntimeError(
                    f"manifest {repository}:{reference}: {response.status} {await response.text()}"
                )
        return {"mediaType": media_type, "digest": digest_of(data), "size": len(data)}

    async def image(
        self, repository: str, reference: str | None, layers: list[dict[str, Any]], arch: str, seed: str
    ) -> dict[str, Any]:
        config = json.dumps(
            {
                "architecture": arch,
                "os": "linux",
                "created": "2026-11-27T00:00:00Z",
                "config": {"Env": [f"SEED={seed}"]},
                "rootfs": {"type": "layers", "diff_ids": [layer["digest"] for layer in layers]},
            }
        ).encode()
        config_ref = await self.blob(repository, config)
        body = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, **config_ref},
            "layers": [{"mediaType": OCI_LAYER, **layer} for layer in layers],
        }
        return await self.manifest(repository, reference, body)

    async def push_tags(self, repository: str, count: int, indexes: int) -> None:
        rng = random.Random(repository)
        layers = [await self.blob(repository, rng.randbytes(rng.randint(2_000, 60_000))) for _ in range(4)]
        for number in range(count):
            tag = "latest" if number == count - 1 else f"1.{number // 10}.{number % 10}"
            chosen = layers[: 1 + number % 4]
            if number >= count - indexes:
                children = []
                for arch in ("amd64", "arm64"):
                    child = await self.image(repository, None, chosen, arch, f"{tag}-{arch}")
                    children.append({**child, "platform": {"architecture": arch, "os": "linux"}})
                await self.manifest(
                    repository, tag, {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children}
                )
            else:
                await self.image(repository, tag, chosen, "amd64", tag)


async def push_content(base: str) -> None:
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    scopes = [f"repository:{name}:pull,push" for name in (BIG_REPO, OFFICIAL)]
    query = [("service", "cargobay"), *(("scope", s) for s in scopes)]
    async with aiohttp.ClientSession() as session:
        async with session.get(
            f"{base}/token", params=query, headers={"Authorization": f"Basic {basic}"}
        ) as response:
            if response.status != 200:
                raise RuntimeError(f"/token: {response.status} {await response.text()}")
            token = (await response.json())["token"]
        pusher = Pusher(session, base, token)
        started = time.perf_counter()
        await pusher.push_tags(BIG_REPO, 100, indexes=10)
        await pusher.push_tags(OFFICIAL, 12, indexes=4)
        print(f"pushed 112 tags in {time.perf_counter() - started:.1f} s", flush=True)


# --------------------------------------------------------------------------- the hub


def start_hub(data_dir: Path, database_url: str, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log_path = data_dir / "hub.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARGOBAY_")}
    env.update(
        {
            "CARGOBAY_DATABASE_URL": database_url,
            "CARGOBAY_AUTH": "token",
            "CARGOBAY_OPEN_REGISTRATION": "true",
            "CARGOBAY_TOKEN_LIFETIME": "3600",
            "PYTHONUNBUFFERED": "1",
        }
    )
    argv = [sys.executable, "-m", "cargobay", "serve", "--listen", f"127.0.0.1:{port}"]
    argv += ["--data-dir", str(data_dir), "--workers", str(workers)]
    with log_path.open("ab") as log:
        hub = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return hub, f"http://127.0.0.1:{port}"


async def wait_ready(base: str, hub: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            if hub.poll() is not None:
                raise RuntimeError(f"the hub exited with status {hub.returncode}")
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"{base}/v2/") as response:
                    if response.status in (200, 401):
                        return
            if time.monotonic() > deadline:
                raise RuntimeError("the hub did not start")
            await asyncio.sleep(0.2)


def stop_hub(hub: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(hub.pid, signal.SIGTERM)
    try:
        hub.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(hub.pid, signal.SIGKILL)
        hub.wait(timeout=10)


# --------------------------------------------------------------------------- measuring

_CSRF = re.compile(r'name="csrf_token"\s+value="([^"]*)"')
_TIMING = re.compile(r"^\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?:\s*;.*?\bdur\s*=\s*\"?([0-9.]+))?")


def server_timing(header: str) -> dict[str, float]:
    """`render;dur=1.5, db;dur=0.4;desc="x"` → {"render": 1.5, "db": 0.4} (metrics without dur left out)."""
    metrics: dict[str, float] = {}
    for part in header.split(","):
        match = _TIMING.match(part)
        if match and match.group(2):
            metrics[match.group(1)] = float(match.group(2))
    return metrics


@dataclasses.dataclass
class PageResult:
    path: str
    status: int
    size: int
    times_ms: list[float]
    timings: dict[str, list[float]]

    @property
    def passed(self) -> bool:
        return self.status == 200 and bool(self.times_ms) and percentile(self.times_ms, 0.99) < TARGET_MS

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "status": self.status, "bytes": self.size}
        if self.times_ms:
            out |= {
                "n": len(self.times_ms),
                "p50_ms": round(statistics.median(self.times_ms), 2),
                "p99_ms": round(percentile(self.times_ms, 0.99), 2),
                "max_ms": round(max(self.times_ms), 2),
                "server_timing": {
                    name: {
                        "p50_ms": round(statistics.median(values), 2),
                        "p99_ms": round(percentile(values, 0.99), 2),
                    }
                    for name, values in self.timings.items()
                },
                "pass": self.passed,
            }
        return out


async def log_in(session: aiohttp.ClientSession, base: str) -> None:
    async with session.get(f"{base}/login") as response:
        page = await response.text()
    match = _CSRF.search(page)
    if response.status != 200 or match is None:
        raise RuntimeError(f"GET /login: {response.status}, csrf_token {'found' if match else 'missing'}")
    form = {"csrf_token": match.group(1), "username": USER, "password": PASSWORD, "next": "/"}
    async with session.post(f"{base}/login", data=form, allow_redirects=False) as response:
        if response.status not in (302, 303) or not any(
            c.key == "cargobay_session" for c in session.cookie_jar
        ):
            raise RuntimeError(f"POST /login: {response.status} {(await response.text())[:300]}")


async def canonical(session: aiohttp.ClientSession, path: str) -> tuple[str, str]:
    """The page to measure for `path`: where a permanent redirect to a local path leads (e.g.
    `/r/library/nginx` → `/_/nginx`), and its label for the report."""
    async with session.get(path, allow_redirects=False) as response:
        await response.read()
        location = response.headers.get("Location", "")
    if response.status in (301, 308) and location.startswith("/") and not location.startswith("//"):
        return location, f"{path} → {location}"
    return path, path


async def measure(base: str, paths: list[str], requests: int, warmup: int, as_user: bool) -> list[PageResult]:
    connector = aiohttp.TCPConnector(limit=1)  # one kept-alive connection, requests one at a time
    jar = aiohttp.CookieJar(unsafe=True)  # cookies of 127.0.0.1 (an IP address) too
    results: list[PageResult] = []
    async with aiohttp.ClientSession(base, connector=connector, cookie_jar=jar) as session:
        if as_user:
            await log_in(session, "")
        for asked in paths:
            path, label = await canonical(session, asked)
            times: list[float] = []
            timings: dict[str, list[float]] = defaultdict(list)
            status, size = 0, 0
            for number in range(warmup + requests):
                started = time.perf_counter()
                async with session.get(path, allow_redirects=False) as response:
                    body = await response.read()
                elapsed = (time.perf_counter() - started) * 1000
                status, size = response.status, len(body)
                if status != 200:
                    break  # a missing page (404) or a redirect: reported, not measured
                if number >= warmup:
                    times.append(elapsed)
                    for name, value in server_timing(response.headers.get("Server-Timing", "")).items():
                        timings[name].append(value)
            results.append(PageResult(label, status, size, times, dict(timings)))
    return results


def report(label: str, results: list[PageResult]) -> None:
    print(
        f"\n{label}: server time per page (ms, time to the whole body on loopback), target p99 < {TARGET_MS:.0f} ms"
    )
    print(
        f"  {'page':<34}{'status':>7}{'bytes':>9}{'n':>5}{'p50':>8}{'p99':>8}{'max':>8}  Server-Timing p50/p99  verdict"
    )
    for result in results:
        if not result.times_ms:
            print(
                f"  {result.path:<34}{result.status:>7}{result.size:>9,}{'-':>5}  not measured (status {result.status})  FAIL"
            )
            continue
        timing = ", ".join(
            f"{name} {statistics.median(values):.1f}/{percentile(values, 0.99):.1f}"
            for name, values in result.timings.items()
        )
        print(
            f"  {result.path:<34}{result.status:>7}{result.size:>9,}{len(result.times_ms):>5}"
            f"{statistics.median(result.times_ms):>8.1f}{percentile(result.times_ms, 0.99):>8.1f}"
            f"{max(result.times_ms):>8.1f}  {timing or '-':<21}  {'PASS' if result.passed else 'FAIL'}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repos", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200, help="measured requests per page")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured requests per page first")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--as-user", action="store_true", help="measure again logged in as benchuser")
    parser.add_argument("--json", type=Path, help="write the results to this file")
    parser.add_argument("--strict", action="store_true", help="exit 3 when a page misses the target")
    parser.add_argument("--keep", action="store_true", help="keep the data dir and the hub's log")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="cargobay-web-bench-"))
    data_dir = tmp / "data"
    data_dir.mkdir()
    database_url = f"sqlite:///{data_dir / 'hub.db'}"
    results: dict[str, list[PageResult]] = {}
    hub: subprocess.Popen[bytes] | None = None
    try:
        started = time.perf_counter()
        seed_database(data_dir, database_url, args.repos)
        hub, base = start_hub(data_dir, database_url, args.workers)
        asyncio.run(wait_ready(base, hub))
        asyncio.run(push_content(base))
        print(
            f"seeded in {time.perf_counter() - started:.1f} s; hub at {base}, {args.workers} workers",
            flush=True,
        )
        load_before = os.getloadavg()[0]
        results["anonymous"] = asyncio.run(measure(base, pages(), args.requests, args.warmup, False))
        report("anonymous", results["anonymous"])
        if args.as_user:
            try:
                logged_in = [path for path in pages() if path != "/login"]
                results["logged in"] = asyncio.run(measure(base, logged_in, args.requests, args.warmup, True))
                report(f"logged in as {USER}", results["logged in"])
            except RuntimeError as exc:
                print(f"\nlogged in: skipped ({exc})")
        load = f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
        print(f"\n{load} (on {os.cpu_count()} cores; figures from a busy machine are noisy)")
    except Exception:
        log = data_dir / "hub.log"
        if log.exists():
            print(f"--- end of {log} ---\n{log.read_text(errors='replace')[-4000:]}", file=sys.stderr)
        raise
    finally:
        if hub is not None:
            stop_hub(hub)
        if args.keep:
            print(f"\nkept {tmp} (hub log: {tmp / 'data' / 'hub.log'})")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        summary = {
            "repositories": args.repos,
            "workers": args.workers,
            "requests": args.requests,
            "target_p99_ms": TARGET_MS,
            "results": {label: [r.summary() for r in rs] for label, rs in results.items()},
        }
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    every = [r for rs in results.values() for r in rs]
    if not every or all(r.passed for r in every):
        print("\nall pages under the target")
        return 0
    missed = sorted({r.path for r in every if not r.passed})
    print(f"\nmissed the target: {', '.join(missed)}")
    return 3 if args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
