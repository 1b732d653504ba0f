#!/usr/bin/env python3
"""Cargobay's benchmark: our hub against the CNCF distribution registry, side by side, in one run.

What one run does
  1. starts our hub (``cargobay serve``, temporary data dir, SQLite unless --database-url,
     ``--workers 2``) and, when installed, the distribution registry (``docker-registry``,
     filesystem storage in a temporary dir), both on 127.0.0.1 and free ports;
  2. waits until both answer ``GET /v2/``;
  3. runs the shared regbench tool (``../shared/bench/regbench.py`` from the repository root, or
     --regbench) with ``--url OURS --vs DISTRIBUTION``: blob push (monolithic and chunked),
     blob pull (1 and 8 streams), request rates (HEAD blob, GET manifest, GET tags list, HEAD
     manifest at concurrency 1/16/64 with p50/p99), skopeo push/pull of a 10x16 MiB image and
     manifest PUTs;
  4. with --client, times ``cargobay push``/``cargobay pull`` against ``skopeo copy`` on the same
     registry (issue 3's targets);
  5. saves everything as JSON in bench/results/<UTC timestamp>.json and prints the issue's
     targets as ratios ours/distribution with PASS/FAIL;
  6. stops both servers (also on Ctrl-C, SIGTERM and errors) and removes the temporary data.

``--summarize FILE`` prints the summary of a saved result again (``--markdown`` as a Markdown
table, the form used in docs/benchmarks.md).  See docs/benchmarks.md for the recorded figures.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime
import fcntl
import hashlib
import io
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REGBENCH = REPO_ROOT.parent / "shared" / "bench" / "regbench.py"
RESULTS_DIR = REPO_ROOT / "bench" / "results"
LOCK_PATH = Path(tempfile.gettempdir()) / "cargobay-bench.lock"
REPO_PREFIX = "cargobench"  # also the user name with --auth token: users push to their own namespace
MiB = 1 << 20

# regbench options passed through unchanged: (flag, type, help)
PASSTHROUGH: list[tuple[str, type, str]] = [
    ("--reps", int, "repetitions of every figure (regbench default 3, 1 with --quick)"),
    ("--blob-mib", int, "blob size for push and pull (256)"),
    ("--chunk-mib", int, "PATCH chunk size (8)"),
    ("--pull-streams", int, "concurrent pull streams (8)"),
    ("--rate-seconds", int, "seconds per rate point (5)"),
    ("--rate-concurrency", str, "comma-separated connection counts (1,16,64)"),
    ("--rate-client", str, "auto | python"),
    ("--wrk-threads", int, "wrk threads (1)"),
    ("--manifests", int, "manifests per repetition (1000)"),
    ("--manifest-concurrency", int, "threads for concurrent manifests (16)"),
    ("--layers", int, "layers of the skopeo e2e image (10)"),
    ("--layer-mib", int, "MiB per layer of the skopeo e2e image (16)"),
    ("--e2e-reps", int, "skopeo e2e repetitions (default --reps)"),
    ("--phys-mib", int, "bytes for the machine's physical limits (1024)"),
    ("--only", str, "regbench sections: physical,push,pull,rate,manifests,e2e"),
    ("--skip", str, "regbench sections to leave out"),
]


class BenchFailure(Exception):
    """The benchmark cannot go on; the message says why."""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def answers_v2(base_url: str) -> bool:
    """True when GET /v2/ answers as a registry: 200, or 401 with the API version header (token
    auth).  Proxies are ignored: loopback only."""
    try:
        with _NO_PROXY.open(f"{base_url}/v2/", timeout=2) as reply:
            return bool(reply.status == 200)
    except urllib.error.HTTPError as err:
        return err.code == 401 and err.headers.get("Docker-Distribution-API-Version") == "registry/2.0"
    except (OSError, ValueError):
        return False


def descendants(root: int) -> list[int]:
    """root and every process below it (Linux /proc)."""
    parent_of: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parent_of[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found = {root}
    grew = True
    while grew:
        new = {pid for pid, ppid in parent_of.items() if ppid in found} - found
        found |= new
        grew = bool(new)
    return sorted(pid for pid in found if pid in parent_of)


@dataclass(eq=False)
class Server:
    """A registry subprocess on 127.0.0.1 in its own session, so that stop() reaches its workers."""

    name: str
    make_argv: Callable[[int], list[str]]
    directory: Path
    env: dict[str, str]
    ready_timeout: float = 60.0
    port: int = 0
    credentials: str | None = None  # USER:PASSWORD when the registry wants them
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def log_path(self) -> Path:
        return self.directory / "server.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def hostport(self) -> str:
        return f"127.0.0.1:{self.port}"

    def log_tail(self, limit: int = 4000) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return text[-limit:]

    def start(self) -> None:
        """Start on a free port (retrying when it was taken meanwhile); wait for GET /v2/."""
        self.directory.mkdir(parents=True, exist_ok=True)
        for attempt in range(3):
            self.port = free_port()
            argv = self.make_argv(self.port)
            with self.log_path.open("ab") as out:
                out.write(f"===== {' '.join(argv)}\n".encode())
                out.flush()
                self.process = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=self.env,
                    cwd=self.directory,
                    start_new_session=True,
                )
            deadline = time.monotonic() + self.ready_timeout
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    break
                if answers_v2(self.base_url):
                    log(f"{self.name}: {self.base_url} (pid {self.process.pid}, pids {self.pids()})")
                    return
                time.sleep(0.1)
            self.stop()
            tail = self.log_tail()
            if "address already in use" in tail.lower() and attempt < 2:
                continue
            raise BenchFailure(
                f"{self.name} did not answer GET {self.base_url}/v2/ with 200 within "
                f"{self.ready_timeout:.0f}s\ncommand: {' '.join(argv)}\n--- {self.log_path} ---\n{tail}"
            )

    def pids(self) -> list[int]:
        return descendants(self.process.pid) if self.process and self.process.poll() is None else []

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the server's process group, SIGKILL after timeout (and any straggler)."""
        if self.process is None:
            return
        group = self.process.pid  # start_new_session: the group id is the leader's pid
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(group, signal.SIGKILL)
                self.process.wait(10)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)


def hub_server(
    directory: Path, workers: int, database_url: str | None, ready_timeout: float, auth: str
) -> Server:
    data = directory / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARGOBAY_")}
    env.update(PYTHONUNBUFFERED="1", CARGOBAY_AUTH=auth)
    if auth == "token":
        env["CARGOBAY_TOKEN_LIFETIME"] = "3600"  # a token must outlive each measurement
    if database_url:
        env["CARGOBAY_DATABASE_URL"] = database_url

    def argv(port: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "cargobay",
            "serve",
            "--listen",
            f"127.0.0.1:{port}",
            "--data-dir",
            str(data),
            "--workers",
            str(workers),
        ]

    return Server("cargobay hub", argv, directory, env, ready_timeout)


def create_user(hub: Server) -> None:
    """A user for the benchmark (`cargobay admin user create`, against the hub's database)."""
    password = uuid.uuid4().hex
    argv = [sys.executable, "-m", "cargobay", "admin", "user", "create", "--username", REPO_PREFIX]
    argv += [
        "--email",
        f"{REPO_PREFIX}@example.com",
        "--password-stdin",
        "--data-dir",
        str(hub.directory / "data"),
    ]
    proc = subprocess.run(
        argv, input=password, capture_output=True, text=True, env=hub.env, cwd=hub.directory
    )
    if proc.returncode != 0:
        raise BenchFailure(f"cannot create the benchmark user: {proc.stderr.strip() or proc.stdout.strip()}")
    hub.credentials = f"{REPO_PREFIX}:{password}"


def distribution_server(binary: str, directory: Path) -> Server:
    root = directory / "storage"
    config_path = directory / "config.yml"
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}

    def argv(port: int) -> list[str]:
        root.mkdir(parents=True, exist_ok=True)
        # JSON is YAML; the same settings as the test fixture (tests/support/servers.py)
        config = {
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(root)},
                "delete": {"enabled": True},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": {"addr": f"127.0.0.1:{port}"},
        }
        config_path.write_text(json.dumps(config, indent=2) + "\n")
        return [binary, "serve", str(config_path)]

    return Server("distribution registry", argv, directory, env, 30.0)


# --------------------------------------------------------------------------- machine and versions


def command_output(argv: Sequence[str]) -> str | None:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, cwd=REPO_ROOT)
    except (OSError, subprocess.SubprocessError):
        return None
    text = (proc.stdout or proc.stderr).strip()  # (wrk -v prints its version and exits 1)
    return text.splitlines()[0] if text else None


def environment_info(regbench: Path, distribution: str | None) -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "kernel": platform.release(),
        "cores": os.cpu_count(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    with contextlib.suppress(OSError, StopIteration), open("/proc/cpuinfo") as f:
        info["cpu"] = next(ln for ln in f if ln.startswith("model name")).split(":", 1)[1].strip()
    with contextlib.suppress(OSError, ValueError), open("/proc/meminfo") as f:
        info["mem_gib"] = round(int(f.readline().split()[1]) / 2**20, 1)
    try:
        import aiohttp

        info["aiohttp"] = aiohttp.__version__
    except ImportError:
        pass
    try:
        import cargobay

        info["cargobay"] = cargobay.__version__
    except ImportError:
        pass
    commit = command_output(["git", "rev-parse", "--short=12", "HEAD"])
    if commit:
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "src"],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
        ).stdout.strip()
        info["commit"] = commit + ("+uncommitted changes in src" if dirty else "")
    if distribution:
        info["distribution"] = command_output([distribution, "--version"])
    for tool, flag in (("skopeo", "--version"), ("wrk", "-v")):
        if shutil.which(tool):
            info[tool] = command_output([tool, flag])
    info["regbench_sha256"] = hashlib.sha256(regbench.read_bytes()).hexdigest()[:16]
    return info


@contextlib.contextmanager
def bench_lock() -> Iterator[None]:
    """One benchmark at a time on this machine: they would measure each other."""
    with LOCK_PATH.open("a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            log(f"another bench/run.py holds {LOCK_PATH} ({f.read().strip()}); waiting for it to finish")
            fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()}\n")
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def other_load_generators() -> list[str]:
    """Command lines of other regbench, wrk or hyperfine processes (someone else benchmarking)."""
    found = []
    mine = set(descendants(os.getpid()))
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in mine:
            continue
        with contextlib.suppress(OSError):
            cmdline = (
                Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            )
            if any(word in cmdline for word in ("regbench.py", "/wrk ", "hyperfine ")):
                found.append(f"{entry}: {cmdline.strip()[:160]}")
    return found


# --------------------------------------------------------------------------- regbench


def run_regbench(
    args: argparse.Namespace,
    regbench: Path,
    hub: Server,
    dist: Server | None,
    workdir: Path,
    result: dict[str, Any],
) -> None:
    """Run regbench as a child (its output goes to ours); its JSON goes to result["regbench"]
    (None when it wrote none), also when interrupted (regbench then reports what it has)."""
    out = workdir / "regbench.json"
    argv = [
        sys.executable,
        str(regbench),
        "--url",
        hub.base_url,
        "--name",
        REPO_PREFIX,
        "--json",
        str(out),
        "--workdir",
        str(workdir),
        "--server-pid",
        ",".join(map(str, hub.pids())),
    ]
    if dist is not None:
        argv += ["--vs", dist.base_url, "--vs-server-pid", ",".join(map(str, dist.pids()))]
    if args.quick:
        argv.append("--quick")
    for flag, _, _ in PASSTHROUGH:
        value = getattr(args, flag[2:].replace("-", "_"))
        if value is not None:
            argv += [flag, str(value)]
    argv += args.regbench_arg
    log("$ " + " ".join(argv))
    env = dict(os.environ)
    env.pop("REGBENCH_USER", None)
    env.pop("REGBENCH_VS_USER", None)
    if hub.credentials:
        env["REGBENCH_USER"] = hub.credentials  # not on the command line
    proc = subprocess.Popen(argv, env=env)
    try:
        code = proc.wait()
        if code not in (0, 1):  # 1: finished, with errors in some section (listed in the JSON)
            log(f"regbench exited with code {code}")
    except BaseException:
        # Ctrl-C reaches regbench too when run from a terminal; SIGTERM does not.  Either way
        # give it a moment to write its partial report, then make sure it is gone.
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        raise
    finally:
        result["regbench"] = json.loads(out.read_text()) if out.exists() else None


# --------------------------------------------------------------------------- summary of targets


@dataclass(frozen=True)
class Goal:
    key: str  # regbench figure key; "{c}" is replaced by the highest concurrency measured
    title: str
    minimum: float | None = None  # ours/distribution must be >= this (None: reported only)
    p99_no_worse: bool = False


GOALS = [
    Goal("push.monolithic", "blob push, monolithic", 2.0),
    Goal("push.chunked", "blob push, chunked", 2.0),
    Goal("pull.single", "blob pull, 1 stream", 1.0),
    Goal("pull.concurrent", "blob pull, 8 streams (aggregate)", 1.0),
    Goal("rate.head_manifest.c{c}", "HEAD manifest, c={c}", 5.0, True),
    Goal("rate.get_manifest.c{c}", "GET manifest, c={c}", 5.0, True),
    Goal("rate.head_blob.c{c}", "HEAD blob, c={c}", 5.0, True),
    Goal("rate.tags_list.c{c}", "GET tags list, c={c}", 5.0, True),
    Goal("e2e.push", "skopeo push of the e2e image (wall s)"),
    Goal("e2e.pull", "skopeo pull of the e2e image (wall s)"),
]


@dataclass
class Row:
    title: str
    unit: str
    ours: str
    theirs: str
    ratio: str
    target: str
    verdict: str
    cpu: str = ""


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}" if abs(value) >= 1 else f"{value:.3f}"


def median_of(figure: dict[str, Any] | None, label: str) -> float | None:
    if not figure or label not in figure:
        return None
    value: float = figure[label]["median"]
    return value


def cpu_of(figure: dict[str, Any], label: str) -> str:
    cpu = figure.get(label, {}).get("cpu_cores_median") or {}
    if "server" not in cpu:
        return "-"
    return f"srv {cpu['server']:.2f} cli {cpu.get('client', 0):.2f} oth {cpu.get('other', 0):.2f}"


def regbench_rows(report: dict[str, Any]) -> tuple[list[Row], list[Row]]:
    """(target rows, other rows) of a regbench report: ours = A, distribution = B."""
    figures: dict[str, dict[str, Any]] = report.get("figures", {})
    concurrency = [int(c) for c in report.get("settings", {}).get("rate_concurrency", [64])]
    top = 64 if 64 in concurrency else max(concurrency, default=64)
    vs = "B" in report.get("targets", {})
    targets: list[Row] = []
    used: set[str] = set()

    def values(figure: dict[str, Any], key: str) -> tuple[str, str]:
        mark_a = "*" if figure.get("A", {}).get("noisy_samples") else ""
        mark_b = "*" if figure.get("B", {}).get("noisy_samples") else ""
        ours, theirs = fmt(median_of(figure, "A")) + mark_a, fmt(median_of(figure, "B")) + mark_b
        p99 = figures.get(key + ".p99")
        if p99 and median_of(p99, "A") is not None:
            ours += f" (p99 {fmt(median_of(p99, 'A'))} ms)"
        if p99 and median_of(p99, "B") is not None:
            theirs += f" (p99 {fmt(median_of(p99, 'B'))} ms)"
        return ours, theirs

    for goal in GOALS:
        key = goal.key.replace("{c}", str(top))
        title = goal.title.replace("{c}", str(top))
        figure = figures.get(key)
        used |= {key, key + ".p50", key + ".p99"}
        target = "-" if goal.minimum is None else f">= {goal.minimum:.1f}x"
        if goal.p99_no_worse:
            target += ", p99 <= 1.0x"
        if figure is None:
            targets.append(Row(title, "", "-", "-", "-", target, "not measured"))
            continue
        ours, theirs = values(figure, key)
        ratio = figure.get("ratio_A_over_B")
        ratio_text = "-" if ratio is None else f"{ratio:.2f}x"
        verdict = "info" if goal.minimum is None else ("no comparison" if not vs else "n/a")
        if goal.minimum is not None and ratio is not None:
            ok = ratio >= goal.minimum
            p99 = figures.get(key + ".p99", {}).get("ratio_A_over_B")
            if goal.p99_no_worse and p99 is not None:
                ratio_text += f" (p99 {p99:.2f}x)"
                ok = ok and p99 <= 1.0
            verdict = "PASS" if ok else "FAIL"
        cpu = f"{cpu_of(figure, 'A')} | {cpu_of(figure, 'B')}"
        targets.append(Row(title, figure["unit"], ours, theirs, ratio_text, target, verdict, cpu))

    others: list[Row] = []
    for key, figure in figures.items():
        if key in used or "parent" in figure or "host" in figure or key.startswith("phys."):
            continue
        ours, theirs = values(figure, key)
        ratio = figure.get("ratio_A_over_B")
        better = "lower is better" if figure.get("better") == "lower" else ""
        others.append(
            Row(
                figure["title"],
                figure["unit"],
                ours,
                theirs,
                "-" if ratio is None else f"{ratio:.2f}x",
                better,
                "info",
                f"{cpu_of(figure, 'A')} | {cpu_of(figure, 'B')}",
            )
        )
    return targets, others


def client_sections(client: dict[str, Any]) -> list[dict[str, Any]]:
    """[{registry, figures}] for each registry measured (older results hold one, at the top)."""
    if "by_registry" in client:
        return list(client["by_registry"])
    return [{"registry": client.get("registry", "?"), "figures": client.get("figures", {})}]


def client_rows(client: dict[str, Any]) -> list[Row]:
    rows = []
    for key, figure in client.get("figures", {}).items():
        cb, sk = figure.get("cargobay"), figure.get("skopeo")
        ratio = figure.get("ratio_cargobay_over_skopeo")
        verdict = "n/a" if ratio is None else ("PASS" if ratio <= 1.0 else "FAIL")
        rows.append(
            Row(
                figure.get("title", key),
                "s",
                fmt(cb["median"]) if cb else "-",
                fmt(sk["median"]) if sk else "-",
                "-" if ratio is None else f"{ratio:.2f}x",
                "<= 1.0x (wall time)",
                verdict,
                f"cpu {fmt(cb['cpu_s_median']) if cb else '-'} s | {fmt(sk['cpu_s_median']) if sk else '-'} s",
            )
        )
    return rows


def print_table(title: str, header: Sequence[str], rows: list[Row], markdown: bool, out: TextIO) -> None:
    if not rows:
        return
    cells = [[r.title, r.unit, r.ours, r.theirs, r.ratio, r.target, r.verdict, r.cpu] for r in rows]
    if markdown:
        print(f"\n**{title}**\n", file=out)
        print("| " + " | ".join(h.replace("|", "/") for h in header) + " |", file=out)
        print("|" + "|".join("---" for _ in header) + "|", file=out)
        for line in cells:
            print("| " + " | ".join(c.replace("|", "/") or " " for c in line) + " |", file=out)
        return
    widths = [max(len(h), *(len(line[i]) for line in cells)) for i, h in enumerate(header)]
    print(f"\n{title}", file=out)
    print("  " + "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)), file=out)
    for line in cells:
        print("  " + "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)), file=out)


def print_summary(result: dict[str, Any], markdown: bool = False, out: TextIO = sys.stdout) -> None:
    run = result.get("run", {})
    env = run.get("environment", {})
    print(
        f"\nCargobay benchmark {run.get('started_utc', '?')}  ({env.get('cores', '?')} cores, "
        f"{env.get('cpu', '?')}; cargobay {env.get('commit', '?')}; {env.get('distribution', 'no distribution')})",
        file=out,
    )
    hub = run.get("hub", {})
    print(
        f"  hub: {hub.get('workers', '?')} workers, {hub.get('database', '?')}, auth {hub.get('auth', '?')}; "
        + (
            "distribution: default config (no auth)"
            if env.get("distribution")
            else "no distribution registry"
        ),
        file=out,
    )
    if run.get("command"):
        print(f"  command: {run['command']}", file=out)
    report = result.get("regbench")
    header = [
        "figure",
        "unit",
        "ours",
        "distribution",
        "ours/dist",
        "target",
        "verdict",
        "CPU cores ours | dist",
    ]
    if report:
        targets, others = regbench_rows(report)
        print_table(
            "Issue 2 targets (ratios of medians, ours / distribution)", header, targets, markdown, out
        )
        print_table("Other figures", header, others, markdown, out)
        if any("*" in r.ours or "*" in r.theirs for r in targets + others):
            print("\n  * some samples ran while other processes used > 0.25 cores (noisy)", file=out)
        for error in report.get("errors", []):
            print(f"  regbench error: {error}", file=out)
    elif "regbench" in result:
        print("\n  regbench produced no result", file=out)
    client = result.get("client")
    if client:
        if client.get("skipped"):
            print(f"\nClient section skipped: {client['skipped']}", file=out)
        else:
            head = [
                "image, direction",
                "unit",
                "cargobay",
                "skopeo",
                "cb/skopeo",
                "target",
                "verdict",
                "CPU s",
            ]
            reps = client.get("reps", "?")
            for section in client_sections(client):
                print_table(
                    f"Issue 3 client timings against the {section.get('registry', '?')} "
                    f"(wall seconds, medians of {reps})",
                    head,
                    client_rows(section),
                    markdown,
                    out,
                )
            if client.get("load_before"):
                before = ", ".join(f"{x:.1f}" for x in client["load_before"])
                after = ", ".join(f"{x:.1f}" for x in client.get("load_after", []))
                print(f"\n  load average before / after the client section: {before} / {after}", file=out)
        for error in client.get("errors", []):
            print(f"  client error: {error}", file=out)
    for error in result.get("errors", []):
        print(f"  error: {error}", file=out)


# --------------------------------------------------------------------------- client section (issue 3)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_oci_image(root: Path, tag: str, layers: int, layer_bytes: int) -> int:
    """An OCI image layout of `layers` random, uncompressed-gzip (level 0) tar layers; returns bytes."""
    import gzip

    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    total = 0

    def store(data: bytes) -> dict[str, Any]:
        nonlocal total
        digest = sha256_hex(data)
        (blobs / digest).write_bytes(data)
        total += len(data)
        return {"digest": f"sha256:{digest}", "size": len(data)}

    layer_descriptors, diff_ids = [], []
    for i in range(layers):
        info = tarfile.TarInfo(f"layer{i}.bin")
        info.size, info.mode, info.mtime = layer_bytes, 0o644, 0
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
            tar.addfile(info, io.BytesIO(os.urandom(layer_bytes)))
        tar_bytes = raw.getvalue()
        diff_ids.append(f"sha256:{sha256_hex(tar_bytes)}")
        layer = gzip.compress(tar_bytes, compresslevel=0, mtime=0)
        layer_descriptors.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **store(layer)})
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": "2026-01-01T00:00:00Z",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **store(config)},
            "layers": layer_descriptors,
        },
        separators=(",", ":"),
    ).encode()
    descriptor = store(manifest)
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                **descriptor,
                "annotations": {"org.opencontainers.image.ref.name": tag},
            }
        ],
    }
    (root / "index.json").write_text(json.dumps(index))
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    return total


@dataclass
class Timed:
    wall: float
    cpu: float  # user + system seconds of the command and its children


class ToolFailed(Exception):
    pass


class ClientBench:
    """Times `cargobay push/pull` against `skopeo copy` on one or more registries, interleaved.

    Every repetition makes two fresh images of the same shape (so neither tool finds its blobs
    already in a registry): image S is pushed by skopeo from an OCI layout, image C by
    `cargobay push` from a local store that was filled beforehand, untimed, by `cargobay pull`
    from a separate staging registry plus `cargobay tag`.  Both tools then pull image S into
    empty destinations (a new OCI layout, a new $CARGOBAY_HOME).  Within a repetition every
    target registry gets its four timings (push S/C, pull S twice) back to back, and which tool
    goes first alternates from one repetition to the next, so drift of the machine hits both
    tools and all registries alike.
    """

    def __init__(self, targets: list[Server], staging: Server, workdir: Path, reps: int) -> None:
        self.targets, self.staging, self.workdir, self.reps = targets, staging, workdir, reps
        self.workdir.mkdir(parents=True, exist_ok=True)
        # private credentials for both tools: docker's config.json (cargobay) and auth.json (skopeo)
        auths = {
            server.hostport: {"auth": base64.b64encode(server.credentials.encode()).decode()}
            for server in (*targets, staging)
            if server.credentials
        }
        self.docker_config = workdir / "docker-config"
        self.docker_config.mkdir(exist_ok=True)
        (self.docker_config / "config.json").write_text(json.dumps({"auths": auths}))
        self.authfile = workdir / "auth.json"
        self.authfile.write_text(json.dumps({"auths": auths}))
        # registry name -> figure key -> figure
        self.figures: dict[str, dict[str, dict[str, Any]]] = {t.name: {} for t in targets}
        self.errors: list[str] = []

    def env(self, home: Path | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CARGOBAY_")}
        env.update(DOCKER_CONFIG=str(self.docker_config), REGISTRY_AUTH_FILE=str(self.authfile))
        if home is not None:
            env["CARGOBAY_HOME"] = str(home)
        return env

    def run(self, argv: list[str], env: dict[str, str], what: str) -> Timed:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            tail = (proc.stderr.strip() or proc.stdout.strip())[-600:]
            raise ToolFailed(f"{what} failed (exit {proc.returncode}): {' '.join(argv)}\n    {tail}")
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return Timed(wall, cpu)

    @staticmethod
    def cargobay(*args: str) -> list[str]:
        return [sys.executable, "-m", "cargobay", *args]

    @staticmethod
    def skopeo(source: str, destination: str) -> list[str]:
        flags = ["--quiet"]
        if source.startswith("docker://"):
            flags.append("--src-tls-verify=false")
        if destination.startswith("docker://"):
            flags.append("--dest-tls-verify=false")
        return ["skopeo", "--insecure-policy", "copy", *flags, source, destination]

    def missing_commands(self) -> str | None:
        """Why the client section cannot run, or None."""
        if not shutil.which("skopeo"):
            return "skopeo is not installed (apt-get install -y skopeo)"
        for command in ("pull", "push", "tag"):
            proc = subprocess.run(
                self.cargobay(command, "--help"), capture_output=True, text=True, env=self.env(self.workdir)
            )
            if proc.returncode != 0:
                reason = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:] or ["?"]
                return f"`cargobay {command}` is not available yet ({reason[0]})"
        return None

    def record(self, registry: str, key: str, title: str, tool: str, timed: Timed) -> None:
        figure = self.figures[registry].setdefault(key, {"title": title})
        samples = figure.setdefault(tool, {"wall_s": [], "cpu_s": []})
        samples["wall_s"].append(timed.wall)
        samples["cpu_s"].append(timed.cpu)
        log(f"  [{tool} -> {registry}] {title}: {timed.wall:.2f} s wall, {timed.cpu:.2f} s CPU")

    def finish(self) -> None:
        for figures in self.figures.values():
            for figure in figures.values():
                for tool in ("cargobay", "skopeo"):
                    if tool in figure:
                        walls, cpus = figure[tool]["wall_s"], figure[tool]["cpu_s"]
                        figure[tool].update(
                            median=statistics.median(walls),
                            min=min(walls),
                            max=max(walls),
                            cpu_s_median=statistics.median(cpus),
                        )
                if "cargobay" in figure and "skopeo" in figure:
                    figure["ratio_cargobay_over_skopeo"] = (
                        figure["cargobay"]["median"] / figure["skopeo"]["median"]
                    )

    def shape(self, name: str, layers: int, layer_mib: float) -> None:
        title = f"{layers}x{layer_mib:g} MiB"
        layer_bytes = int(layer_mib * MiB)
        for rep in range(self.reps):
            tag = f"{name}-{uuid.uuid4().hex[:8]}"
            rep_dir = self.workdir / tag
            src_s, src_c = rep_dir / "image-s", rep_dir / "image-c"
            size = write_oci_image(src_s, tag, layers, layer_bytes)
            write_oci_image(src_c, tag, layers, layer_bytes)
            log(f"  rep {rep + 1}/{self.reps}: two {title} images of {size / 1e6:.1f} MB")
            staged = f"{self.staging.hostport}/{REPO_PREFIX}/client-stage:{tag}"
            push_home = rep_dir / "home-push"
            # untimed: image C into the local store of cargobay, through the staging registry,
            # tagged for every target (no target holds any of its blobs yet)
            self.run(self.skopeo(f"oci:{src_c}:{tag}", f"docker://{staged}"), self.env(), "staging push")
            self.run(self.cargobay("pull", staged), self.env(push_home), "cargobay pull (staging)")
            for target in self.targets:
                ref_c = f"{target.hostport}/{REPO_PREFIX}/client-cargobay:{tag}"
                self.run(self.cargobay("tag", staged, ref_c), self.env(push_home), "cargobay tag")
            for target in self.targets if rep % 2 == 0 else list(reversed(self.targets)):
                self.measure(target, name, title, tag, rep, rep_dir, src_s, push_home)
            shutil.rmtree(rep_dir, ignore_errors=True)

    def measure(
        self,
        target: Server,
        name: str,
        title: str,
        tag: str,
        rep: int,
        rep_dir: Path,
        src_s: Path,
        push_home: Path,
    ) -> None:
        host = target.hostport
        ref_s = f"{host}/{REPO_PREFIX}/client-skopeo:{tag}"
        ref_c = f"{host}/{REPO_PREFIX}/client-cargobay:{tag}"
        pull_home = rep_dir / f"home-pull-{target.port}"
        pulled = rep_dir / f"pulled-oci-{target.port}"
        # (figure key, title, tool, command, environment)
        pushes = [
            (
                f"{name}.push",
                f"push {title}",
                "skopeo",
                self.skopeo(f"oci:{src_s}:{tag}", f"docker://{ref_s}"),
                self.env(),
            ),
            (f"{name}.push", f"push {title}", "cargobay", self.cargobay("push", ref_c), self.env(push_home)),
        ]
        pulls = [
            (f"{name}.pull", f"pull {title}", "skopeo", self.skopeo(f"docker://{ref_s}", f"oci:{pulled}:{tag}"), self.env()),
            (f"{name}.pull", f"pull {title}", "cargobay", self.cargobay("pull", ref_s), self.env(pull_home)),
        ]  # fmt: skip
        if rep % 2:  # alternate who goes first, so that drift hits both alike
            pushes.reverse()
            pulls.reverse()
        for key, what, tool, argv, env in pushes + pulls:
            os.sync()  # write-back of earlier steps should not run during this one
            try:
                self.record(
                    target.name, key, what, tool, self.run(argv, env, f"{tool} {what} ({target.name})")
                )
            except ToolFailed as exc:
                # one tool failing must not hide the other's figure
                self.errors.append(str(exc))
                log(f"  {exc}")

    def run_all(self, shapes: list[tuple[str, int, float]]) -> None:
        names = " and ".join(t.name for t in self.targets)
        for name, layers, layer_mib in shapes:
            log(f"== client: {layers} x {layer_mib:g} MiB, cargobay vs skopeo on {names}")
            try:
                self.shape(name, layers, layer_mib)
            except ToolFailed as exc:
                self.errors.append(str(exc))
                log(f"  {exc}\n  (skipping the {name} image)")
        self.finish()


def precompile_bytecode() -> str:
    """Compile cargobay's modules, as installing a wheel does (pip compiles on install).

    With PYTHONDONTWRITEBYTECODE set (this machine sets it globally) an editable checkout is
    otherwise compiled from source by every `cargobay` command, about 50 ms of start-up that an
    installed cargobay does not pay.  Stale files are harmless: Python checks the source's mtime.
    """
    package = REPO_ROOT / "src" / "cargobay"
    proc = subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(package)], capture_output=True, text=True
    )
    return "compiled" if proc.returncode == 0 else f"compileall failed: {proc.stderr.strip()[-200:]}"


def run_client(
    args: argparse.Namespace, targets: list[Server], workdir: Path, distribution: str | None
) -> dict[str, Any]:
    reps = args.client_reps or (1 if args.quick else 3)
    result: dict[str, Any] = {"registries": [t.name for t in targets], "reps": reps}
    # A registry of its own for staging, so that no target has any of image C's blobs.
    staging = (
        distribution_server(distribution, workdir / "staging")
        if distribution
        else hub_server(workdir / "staging", 1, None, args.ready_timeout, "none")
    )
    staging.name = f"staging {staging.name}"
    bench = ClientBench(targets, staging, workdir / "client", reps)
    reason = bench.missing_commands()
    if reason:
        log(f"== client: skipped: {reason}")
        result["skipped"] = reason
        return result
    result["bytecode"] = precompile_bytecode()
    result["load_before"] = os.getloadavg()
    try:
        staging.start()
        shapes = [
            ("image10", args.client_layers, args.client_layer_mib),
            ("image50", args.client_many_layers, args.client_many_layer_mib),
        ]
        if args.quick:
            shapes = [(name, layers, min(mib, 2.0)) for name, layers, mib in shapes]
        result["shapes"] = [{"name": n, "layers": la, "layer_mib": m} for n, la, m in shapes]
        bench.run_all(shapes)
    finally:
        staging.stop()
    result["load_after"] = os.getloadavg()
    result["by_registry"] = [
        {"registry": name, "figures": figures} for name, figures in bench.figures.items()
    ]
    result["errors"] = bench.errors
    return result


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False
    )
    p.add_argument(
        "--regbench", type=Path, default=DEFAULT_REGBENCH, help=f"regbench.py ({DEFAULT_REGBENCH})"
    )
    p.add_argument("--quick", action="store_true", help="short run (regbench --quick; client: 1 rep, small)")
    p.add_argument("--database-url", help="hub database (postgresql://...); default SQLite in the data dir")
    p.add_argument("--workers", type=int, default=2, help="hub worker processes (2)")
    p.add_argument(
        "--auth",
        choices=("token", "none"),
        default="token",
        help="hub auth: token (as shipped; a user is created and every client authenticates) "
        "or none (like the distribution registry's default config)",
    )
    p.add_argument(
        "--distribution",
        default=shutil.which("docker-registry"),
        help="distribution registry binary (default: docker-registry on PATH)",
    )
    p.add_argument("--no-distribution", action="store_true", help="measure the hub alone")
    p.add_argument("--json", type=Path, help="result file (default bench/results/<UTC timestamp>.json)")
    p.add_argument("--workdir", type=Path, help="parent of the temporary data dirs (default: system tmp)")
    p.add_argument("--keep", action="store_true", help="keep the temporary data dirs and server logs")
    p.add_argument("--ready-timeout", type=float, default=60.0, help="seconds to wait for GET /v2/ (60)")
    p.add_argument(
        "--regbench-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for regbench, repeatable (e.g. --regbench-arg=--rate-client=python)",
    )
    p.add_argument("--strict", action="store_true", help="exit 3 when a target is missed")
    p.add_argument("--summarize", type=Path, metavar="FILE", help="only print the summary of a saved result")
    p.add_argument("--markdown", action="store_true", help="print the summary as Markdown tables")
    passthrough = p.add_argument_group("passed to regbench")
    for flag, kind, text in PASSTHROUGH:
        passthrough.add_argument(flag, type=kind, help=text)
    client = p.add_argument_group("client timings (issue 3)")
    client.add_argument("--client", action="store_true", help="also time cargobay push/pull vs skopeo copy")
    client.add_argument("--client-only", action="store_true", help="only the client timings (no regbench)")
    client.add_argument(
        "--client-registry",
        choices=("both", "hub", "distribution"),
        default="both",
        help="registries both clients talk to: both (the default; the hub alone without distribution), "
        "hub or distribution",
    )
    client.add_argument(
        "--client-reps", type=int, help="repetitions (3, 1 with --quick); 5+ on a busy machine"
    )
    client.add_argument("--client-layers", type=int, default=10, help="layers of the first image (10)")
    client.add_argument("--client-layer-mib", type=float, default=16.0, help="MiB per layer (16)")
    client.add_argument("--client-many-layers", type=int, default=50, help="layers of the second image (50)")
    client.add_argument("--client-many-layer-mib", type=float, default=1.0, help="MiB per layer (1)")
    args = p.parse_args(argv)
    if args.client_only:
        args.client = True
    if args.no_distribution:
        args.distribution = None
    return args


def check_results(result: dict[str, Any]) -> bool:
    """True when every measured target passed."""
    rows: list[Row] = []
    if result.get("regbench"):
        rows += regbench_rows(result["regbench"])[0]
    if result.get("client") and not result["client"].get("skipped"):
        for section in client_sections(result["client"]):
            rows += client_rows(section)
    return all(r.verdict != "FAIL" for r in rows)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.summarize:
        print_summary(json.loads(args.summarize.read_text()), markdown=args.markdown)
        return 0
    regbench = args.regbench.resolve()
    if not args.client_only and not regbench.is_file():
        log(
            f"regbench not found at {regbench}.\nThis benchmark drives the shared, read-only tool "
            f"regbench.py (expected at ../shared/bench/regbench.py next to the repository); "
            f"pass its location with --regbench PATH."
        )
        return 2
    if args.distribution and not Path(args.distribution).exists():
        log(f"distribution registry binary {args.distribution} not found")
        return 2
    if not args.distribution:
        log("distribution registry not installed (or --no-distribution): measuring the hub alone, no ratios")

    def on_sigterm(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    started = datetime.datetime.now(datetime.UTC)
    out_path = args.json or RESULTS_DIR / f"{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    result: dict[str, Any] = {
        "tool": "cargobay bench/run.py",
        "format": 1,
        "run": {
            "started_utc": started.isoformat(timespec="seconds"),
            "command": " ".join([Path(sys.argv[0]).name, *(sys.argv[1:] if argv is None else argv)]),
            "environment": environment_info(regbench, args.distribution) if regbench.is_file() else {},
            "hub": {
                "workers": args.workers,
                "database": "postgresql" if args.database_url else "sqlite",
                "auth": args.auth,
            },
        },
        "errors": [],
    }
    for line in other_load_generators():
        log(f"warning: another load generator is running, figures will be noisy: {line}")
    code = 0
    with bench_lock():
        workdir = Path(tempfile.mkdtemp(prefix="cargobay-bench-", dir=args.workdir))
        hub = hub_server(workdir / "hub", args.workers, args.database_url, args.ready_timeout, args.auth)
        dist = distribution_server(args.distribution, workdir / "distribution") if args.distribution else None
        try:
            hub.start()
            if args.auth == "token":
                create_user(hub)
            if dist is not None:
                dist.start()
            if not args.client_only:
                run_regbench(args, regbench, hub, dist, workdir, result)
            if args.client:
                if args.client_registry == "distribution" and dist is None:
                    raise BenchFailure("--client-registry distribution needs the distribution registry")
                targets = {
                    "hub": [hub],
                    "distribution": [dist] if dist else [],
                    "both": [hub, dist] if dist else [hub],
                }[args.client_registry]
                result["client"] = run_client(args, targets, workdir, args.distribution)
        except KeyboardInterrupt:
            result["errors"].append("interrupted")
            log("interrupted: stopping the servers")
            code = 130
        except BenchFailure as exc:
            result["errors"].append(str(exc).splitlines()[0])
            log(f"error: {exc}")
            code = 1
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # cleanup must finish
            for server in (dist, hub):
                if server is not None:
                    server.stop()
            result["run"]["duration_s"] = round(
                (datetime.datetime.now(datetime.UTC) - started).total_seconds(), 1
            )
            out_path.parent.mkdir(parents=True, exist_ok=True)
            out_path.write_text(json.dumps(result, indent=2) + "\n")
            print_summary(result)
            log(f"\nresults: {out_path}")
            if args.keep:
                log(f"kept {workdir}")
            else:
                log(f"removing {workdir}")
                shutil.rmtree(workdir, ignore_errors=True)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if code:
        return code
    if result.get("regbench") is None and not args.client_only:
        return 1
    if args.strict and not check_results(result):
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
