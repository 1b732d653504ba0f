"""Real servers on loopback for tests: the cargobay hub and the CNCF distribution registry.

Each server runs as a subprocess in its own session (process group), so ``stop()`` and
``kill()`` reach every worker process it forks.  Output (stdout and stderr) goes to a log file
next to its data; when a server fails to become ready the error shows the end of that log.
Ports come from the kernel (bind to port 0), so parallel pytest workers never collide.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

API_VERSION_HEADER = "Docker-Distribution-API-Version"
API_VERSION = "registry/2.0"

# Every server started in this process, for failure reports (see conftest.py).
RUNNING: list[ServerProcess] = []

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class ServerError(RuntimeError):
    pass


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM if pytest dies (even by SIGKILL), so no server
    outlives the test run (Linux ``PR_SET_PDEATHSIG``; a no-op elsewhere)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # 1 = PR_SET_PDEATHSIG


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def probe(url: str, timeout: float = 2.0) -> tuple[int, Mapping[str, str]] | None:
    """GET ``url`` ignoring proxies: (status, headers with lower-case names), or None when nothing answers."""
    try:
        with _NO_PROXY.open(urllib.request.Request(url), timeout=timeout) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}
    except (OSError, ValueError):
        return None


def _tail(path: Path, start: int = 0, limit: int = 12_000) -> str:
    try:
        with path.open("rb") as log:
            log.seek(start)
            data = log.read()
    except OSError:
        return ""
    text = data.decode(errors="replace")
    return text if len(text) <= limit else "[...]\n" + text[-limit:]


@dataclass(eq=False)
class ServerProcess:
    """A server subprocess listening on 127.0.0.1:``port``."""

    name: str
    argv: list[str]
    port: int
    log_path: Path
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    cwd: Path | None = None
    ready_timeout: float = 60.0
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        """``127.0.0.1:PORT``, the form skopeo and podman references use."""
        return f"127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.url}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return _tail(self.log_path)

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def log_since(self, offset: int) -> str:
        return _tail(self.log_path, offset)

    def is_ready(self) -> bool:
        answer = probe(f"{self.base_url}/v2/")
        # 401 is a ready registry too: one with token auth asks for credentials at /v2/.
        return (
            answer is not None
            and answer[0] in (200, 401)
            and answer[1].get(API_VERSION_HEADER.lower()) == API_VERSION
        )

    def start(self) -> None:
        """Start and wait until ``GET /v2/`` answers 200 (401 with auth) with the API version header."""
        if self.running:
            raise ServerError(f"{self.name} is already running")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"\n===== starting: {' '.join(self.argv)}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        if self not in RUNNING:
            RUNNING.append(self)
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(
                    f"{self.name} exited with code {self.process.returncode} before it was ready\n"
                    f"command: {' '.join(self.argv)}\n--- {self.log_path} ---\n{self.log()}"
                )
            if self.is_ready():
                return
            time.sleep(0.1)
        self.kill()
        raise ServerError(
            f"{self.name} did not answer GET {self.base_url}/v2/ with 200 (or 401) and "
            f"'{API_VERSION_HEADER}: {API_VERSION}' within {self.ready_timeout:.0f}s\n"
            f"command: {' '.join(self.argv)}\n--- {self.log_path} ---\n{self.log()}"
        )

    def _signal_group(self, sig: signal.Signals) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)  # the session we created: the server and its workers

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM the server's process group, SIGKILL after ``timeout``; returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.process.wait(10)
        self._signal_group(signal.SIGKILL)  # stragglers (worker processes) left in the group
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL the whole process group at once (a crash: no cleanup runs)."""
        if self.process is None:
            return
        self._signal_group(signal.SIGKILL)
        self.process.wait(10)

    def restart(self) -> None:
        """Stop (if running) and start again on the same port with the same data."""
        self.stop()
        deadline = time.monotonic() + 10
        while True:
            try:
                self.start()
                return
            except ServerError:
                # the old socket may linger briefly; retry while the port is busy
                if time.monotonic() > deadline or not _port_busy_in_log(self.log()):
                    raise

    def close(self) -> None:
        self.stop()
        if self in RUNNING:
            RUNNING.remove(self)


def _port_busy_in_log(log: str) -> bool:
    tail = log.rsplit("===== starting", 1)[-1].lower()
    return "address already in use" in tail or "errno 98" in tail


def _start_on_free_port(make: Any, attempts: int = 3) -> Any:
    """Call ``make(port)`` → server, start it; retry on another port if that one got taken."""
    for attempt in range(attempts):
        server = make(free_port())
        try:
            server.start()
            return server
        except ServerError:
            server.close()
            if attempt == attempts - 1 or not _port_busy_in_log(server.log()):
                raise
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------- cargobay hub


@dataclass(eq=False)
class Hub(ServerProcess):
    """A ``cargobay serve`` subprocess."""

    data_dir: Path = field(default_factory=Path)
    database_url: str | None = None
    config_path: Path | None = None


def hub_env(database_url: str | None, extra: Mapping[str, str] | None) -> dict[str, str]:
    """The environment of a hub: the caller's minus any CARGOBAY_* setting, plus ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARGOBAY_")}
    env["PYTHONUNBUFFERED"] = "1"
    # An open registry unless a test asks for accounts and tokens (CARGOBAY_AUTH=token).
    env["CARGOBAY_AUTH"] = "none"
    if database_url is not None:
        env["CARGOBAY_DATABASE_URL"] = database_url
    env.update(extra or {})
    return env


def start_hub(
    base_dir: Path,
    *,
    workers: int = 2,
    data_dir: Path | None = None,
    database_url: str | None = None,
    config: Mapping[str, Any] | Path | str | None = None,
    env: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
    port: int | None = None,
    ready_timeout: float = 60.0,
) -> Hub:
    """Start ``cargobay serve`` with its data (and log) under ``base_dir``; wait until ready.

    ``config`` is a path to a config file, or a mapping written as YAML to ``base_dir/config.yaml``.
    ``database_url`` sets ``CARGOBAY_DATABASE_URL`` (default: SQLite in the data dir).
    ``env`` adds environment variables (the hub runs open, ``CARGOBAY_AUTH=none``, unless
    ``env={"CARGOBAY_AUTH": "token"}``); ``args`` adds command line arguments.
    """
    base_dir.mkdir(parents=True, exist_ok=True)
    data = data_dir if data_dir is not None else base_dir / "data"
    data.mkdir(parents=True, exist_ok=True)
    config_path: Path | None = None
    if isinstance(config, Mapping):
        config_path = base_dir / "config.yaml"
        config_path.write_text(yaml.safe_dump(dict(config), sort_keys=False))
    elif config is not None:
        config_path = Path(config)

    def make(chosen: int) -> Hub:
        argv = [
            sys.executable,
            "-m",
            "cargobay",
            "serve",
            "--listen",
            f"127.0.0.1:{chosen}",
            "--data-dir",
            str(data),
            "--workers",
            str(workers),
        ]
        if config_path is not None:
            argv += ["--config", str(config_path)]
        argv += list(args)
        return Hub(
            name="cargobay hub",
            argv=argv,
            port=chosen,
            log_path=base_dir / "hub.log",
            env=hub_env(database_url, env),
            cwd=base_dir,
            ready_timeout=ready_timeout,
            data_dir=data,
            database_url=database_url,
            config_path=config_path,
        )

    if port is not None:
        hub = make(port)
        hub.start()
        return hub
    started: Hub = _start_on_free_port(make)
    return started


# --------------------------------------------------------------------------- CNCF distribution


@dataclass(eq=False)
class Distribution(ServerProcess):
    """The CNCF distribution registry (Debian's ``docker-registry``)."""

    root: Path = field(default_factory=Path)


def start_distribution(binary: str, base_dir: Path, *, ready_timeout: float = 30.0) -> Distribution:
    """Start ``docker-registry serve`` with filesystem storage under ``base_dir``, deletes enabled."""
    base_dir.mkdir(parents=True, exist_ok=True)
    root = base_dir / "storage"
    root.mkdir(exist_ok=True)

    def make(chosen: int) -> Distribution:
        config = {
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(root)},
                "delete": {"enabled": True},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": {"addr": f"127.0.0.1:{chosen}"},
        }
        config_path = base_dir / "config.yml"
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        return Distribution(
            name="distribution registry",
            argv=[binary, "serve", str(config_path)],
            port=chosen,
            log_path=base_dir / "registry.log",
            env=env,
            cwd=base_dir,
            ready_timeout=ready_timeout,
            root=root,
        )

    started: Distribution = _start_on_free_port(make)
    return started
