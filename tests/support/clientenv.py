"""An environment for running the `cargobay` CLI in a subprocess with a store and credentials of
its own (nothing read from or written to the real home directory)."""

from __future__ import annotations

from pathlib import Path


def isolated_client_env(home: Path) -> dict[str, str]:
    """Folders under `home` for the local store, docker's and podman's credentials."""
    for folder in ("docker", "run", "config", "store"):
        (home / folder).mkdir(parents=True, exist_ok=True)
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "CARGOBAY_HOME": str(home / "store"),
        "DOCKER_CONFIG": str(home / "docker"),
        "XDG_RUNTIME_DIR": str(home / "run"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "REGISTRY_AUTH_FILE": str(home / "auth.json"),
    }
