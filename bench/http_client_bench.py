"""The client's HTTP layer against aiohttp's client, side by side, in one run.

    python3 bench/http_client_bench.py [--mib 256] [--reps 5] [--small 500]

A server process (aiohttp.web, the blob by sendfile from a temporary file; the same server for both) answers
`GET /blob` with `--mib` MiB and `GET /small` with 100 bytes. For each client, alternating:

- download: stream the blob, sha256 it and write it to a file (what a pull does per layer);
- small requests: `--small` sequential GETs on one kept-alive connection (what a pull's
  manifest and HEAD requests look like);
- import: `python -c "import <client module>"` wall time, minus `python -c pass`.

Prints medians (MB/s, requests/s, ms) and the ratio ours / aiohttp.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable

SERVER = """
import sys, tempfile
from aiohttp import web

blob = tempfile.NamedTemporaryFile()
blob.write(bytes(range(256)) * (int(sys.argv[2]) * 4096))
blob.flush()
small = b"x" * 100

async def get_blob(request):
    return web.FileResponse(blob.name)  # sendfile: the server is not the bottleneck

async def get_small(request):
    return web.Response(body=small)

app = web.Application()
app.router.add_get("/blob", get_blob)
app.router.add_get("/small", get_small)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the test server did not start")


async def ours_download(url: str, path: str) -> int:
    from cargobay.distclient.httpclient import HttpSession

    async with HttpSession(read_buffer=4 << 20) as session, session.get(url) as resp:
        return await _consume(resp.iter_chunks(), path)


async def aiohttp_download(url: str, path: str) -> int:
    import aiohttp

    session = aiohttp.ClientSession(read_bufsize=4 << 20, auto_decompress=False)
    async with session, session.get(url) as resp:
        return await _consume((data async for data, _ in resp.content.iter_chunks()), path)


async def _consume(chunks: object, path: str) -> int:
    hasher = hashlib.sha256()
    size = 0
    with open(path, "wb") as out:
        async for data in chunks:  # type: ignore[attr-defined]
            hasher.update(data)
            out.write(data)
            size += len(data)
    return size


async def ours_small(url: str, count: int) -> None:
    from cargobay.distclient.httpclient import HttpSession

    async with HttpSession() as session:
        for _ in range(count):
            async with session.get(url) as resp:
                await resp.read()


async def aiohttp_small(url: str, count: int) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        for _ in range(count):
            async with session.get(url) as resp:
                await resp.read()


def timed(run: Callable[[], Awaitable[object]]) -> float:
    start = time.perf_counter()
    asyncio.run(run())  # type: ignore[arg-type]
    return time.perf_counter() - start


def import_ms(module: str, reps: int) -> float:
    def once(code: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return time.perf_counter() - start

    base = statistics.median(once("pass") for _ in range(reps))
    return 1000 * (statistics.median(once(f"import {module}") for _ in range(reps)) - base)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--small", type=int, default=500)
    args = parser.parse_args()

    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port), str(args.mib)])
    try:
        wait_for(port)
        base = f"http://127.0.0.1:{port}"
        results: dict[str, dict[str, list[float]]] = {
            name: {"download": [], "small": []} for name in ("cargobay", "aiohttp")
        }
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "blob")
            for rep in range(args.reps):
                order = [
                    ("cargobay", ours_download, ours_small),
                    ("aiohttp", aiohttp_download, aiohttp_small),
                ]
                if rep % 2:
                    order.reverse()
                for name, download, small in order:
                    seconds = timed(lambda d=download: d(f"{base}/blob", path))  # type: ignore[misc]
                    results[name]["download"].append(args.mib * 1.048576 / seconds)
                    seconds = timed(lambda s=small: s(f"{base}/small", args.small))  # type: ignore[misc]
                    results[name]["small"].append(args.small / seconds)
        imports = {
            "cargobay": import_ms("cargobay.distclient.httpclient", args.reps * 2),
            "aiohttp": import_ms("aiohttp", args.reps * 2),
        }
    finally:
        server.terminate()
        server.wait(10)

    print(f"HTTP client, cargobay (httptools) vs aiohttp {_aiohttp_version()}, medians of {args.reps}")
    rows = [
        (f"download {args.mib} MiB + sha256 + file write", "MB/s", "download"),
        (f"{args.small} small GETs, one connection", "req/s", "small"),
    ]
    for title, unit, key in rows:
        ours = statistics.median(results["cargobay"][key])
        theirs = statistics.median(results["aiohttp"][key])
        print(f"  {title:<44} {ours:>9.0f} {theirs:>9.0f} {unit:<6} {ours / theirs:.2f}x")
    print(
        f"  {'import (ms over python -c pass)':<44} {imports['cargobay']:>9.1f} {imports['aiohttp']:>9.1f} "
        f"{'ms':<6} {imports['cargobay'] / imports['aiohttp']:.2f}x"
    )


def _aiohttp_version() -> str:
    import aiohttp

    return aiohttp.__version__


if __name__ == "__main__":
    main()
