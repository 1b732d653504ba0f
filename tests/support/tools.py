"""Run third-party tools (skopeo, podman, ...) with timeouts, isolated from the user's config.

A missing tool skips the test.  When running as root a missing Debian package is installed
once (under a file lock, so parallel pytest workers do not fight over dpkg), unless
``CARGOBAY_TEST_NO_INSTALL`` is set; ``scripts/test`` normally installs them beforehand.
"""

from __future__ import annotations

import fcntl
import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

# binary -> Debian package
PACKAGES = {
    "skopeo": "skopeo",
    "podman": "podman",
    "docker-registry": "docker-registry",
    "umoci": "umoci",
}

DEFAULT_TIMEOUT = 120.0
_INSTALL_LOCK = Path(tempfile.gettempdir()) / "cargobay-tests-apt.lock"
_install_attempted: set[str] = set()


def _try_install(package: str) -> None:
    if package in _install_attempted or os.environ.get("CARGOBAY_TEST_NO_INSTALL"):
        return
    _install_attempted.add(package)
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with _INSTALL_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for command in (
            ["apt-get", "install", "-y", "-qq", package],
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", package],
        ):
            if command[1] == "update" and shutil.which(package) is not None:
                break
            subprocess.run(
                command, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=900, check=False
            )


def find_binary(name: str) -> str | None:
    """Path of ``name``, installing its Debian package first if possible."""
    found = shutil.which(name)
    if found is None and name in PACKAGES:
        _try_install(PACKAGES[name])
        found = shutil.which(name)
    return found


def require_binary(name: str) -> str:
    """Path of ``name`` or skip the test with a clear reason."""
    found = find_binary(name)
    if found is None:
        package = PACKAGES.get(name, name)
        if os.environ.get("CARGOBAY_TEST_NO_INSTALL"):
            how = "not installed by scripts/test"
        elif os.geteuid() != 0:
            how = "not root, cannot install"
        else:
            how = "apt-get install failed"
        pytest.skip(f"{name} not found ({how}); install the Debian package {package!r} to run this test")
    return found


class ToolError(AssertionError):
    """A tool exited non-zero; the message carries the command and its output."""

    def __init__(self, result: subprocess.CompletedProcess[bytes] | subprocess.CompletedProcess[str]) -> None:
        self.result = result

        def text(value: bytes | str | None) -> str:
            if value is None:
                return ""
            return value.decode(errors="replace") if isinstance(value, bytes) else value

        command = shlex.join(str(arg) for arg in result.args)
        super().__init__(
            f"command failed with exit code {result.returncode}: {command}\n"
            f"--- stdout ---\n{text(result.stdout)[-4000:]}\n--- stderr ---\n{text(result.stderr)[-4000:]}"
        )


class Tool:
    """A command line tool with fixed leading arguments and environment."""

    def __init__(
        self,
        binary: str,
        *,
        base_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.binary = binary
        self.base_args = list(base_args)
        self.env = dict(env) if env is not None else dict(os.environ)
        self.timeout = timeout

    def command(self, *args: str | os.PathLike[str]) -> list[str]:
        return [self.binary, *self.base_args, *(os.fspath(arg) for arg in args)]

    def __call__(
        self,
        *args: str | os.PathLike[str],
        check: bool = True,
        timeout: float | None = None,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run with text output; raise :class:`ToolError` on a non-zero exit when ``check``."""
        result = subprocess.run(
            self.command(*args),
            env=self.env,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout or self.timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise ToolError(result)
        return result

    def raw(
        self, *args: str | os.PathLike[str], check: bool = True, timeout: float | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        """Run with bytes output (e.g. ``skopeo inspect --raw``, whose bytes are a digest's input)."""
        result = subprocess.run(
            self.command(*args),
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout or self.timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise ToolError(result)
        return result


def isolated_env(home: Path) -> dict[str, str]:
    """Environment for containers tools that ignores the user's credentials and config.

    ``home`` is a private directory; an empty auth file there keeps every test anonymous
    unless it passes ``--authfile``/``--creds`` itself.
    """
    home.mkdir(parents=True, exist_ok=True)
    auth = home / "auth.json"
    if not auth.exists():
        auth.write_text("{}")
    (home / "docker").mkdir(exist_ok=True)
    (home / "tmp").mkdir(exist_ok=True)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("REGISTRY_AUTH_FILE", "DOCKER_", "CONTAINERS_"))
    }
    env.update(
        HOME=str(home),
        REGISTRY_AUTH_FILE=str(auth),
        DOCKER_CONFIG=str(home / "docker"),
        TMPDIR=str(home / "tmp"),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_RUNTIME_DIR=str(home / "run"),
    )
    (home / "run").mkdir(mode=0o700, exist_ok=True)
    return env


class Skopeo(Tool):
    """skopeo with a private home; ``--insecure-policy`` so no policy.json is needed."""

    def __init__(self, home: Path, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        super().__init__(
            require_binary("skopeo"), base_args=["--insecure-policy"], env=isolated_env(home), timeout=timeout
        )


class Podman(Tool):
    """podman as root with private vfs storage under ``workdir`` (nothing shared between tests)."""

    def __init__(self, workdir: Path, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        binary = require_binary("podman")
        if os.geteuid() != 0:
            pytest.skip("podman tests run as root (vfs storage in a private --root)")
        self.workdir = workdir
        root = workdir / "root"
        root.mkdir(parents=True, exist_ok=True)
        # podman refuses a runroot longer than 50 characters: keep it short, outside workdir
        short_base = "/tmp" if os.access("/tmp", os.W_OK) else None
        self.runroot = Path(tempfile.mkdtemp(prefix="cb-podman-", dir=short_base))
        runroot = self.runroot
        super().__init__(
            binary,
            base_args=[
                "--root",
                str(root),
                "--runroot",
                str(runroot),
                "--storage-driver",
                "vfs",
                "--events-backend",
                "file",
                "--cgroup-manager",
                "cgroupfs",
                "--tmpdir",
                str(workdir / "libpod-tmp"),
            ],
            env=isolated_env(workdir / "home"),
            timeout=timeout,
        )

    def close(self) -> None:
        """Remove the private runroot (the storage under ``workdir`` goes with the test's tmp dir)."""
        shutil.rmtree(self.runroot, ignore_errors=True)

    def image_id(self, reference: str) -> str:
        """The image ID (the config digest's hex) of a local image."""
        return self("image", "inspect", "--format", "{{.Id}}", reference).stdout.strip()
