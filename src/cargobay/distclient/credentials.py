"""Registry credentials from where docker and podman keep them.

Order: `DOCKER_AUTH_CONFIG`, then `$DOCKER_CONFIG/config.json` (credHelpers → credsStore → auths),
then podman's auth.json files (`$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`,
`${XDG_CONFIG_HOME:-~/.config}/containers/auth.json`), where keys may name a namespace path.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cargobay.distclient.config import DOCKER_HUB_DOMAIN, DOCKER_HUB_INDEX_SERVER

IDENTITY_TOKEN_USERNAME = "<token>"


class CredentialsError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str = ""
    password: str = ""
    identity_token: str = ""  # an OAuth refresh token stored by login
    registry_token: str = ""  # a bearer token to send as-is

    def __repr__(self) -> str:  # never print secrets
        return f"Credentials(username={self.username!r})"


def docker_config_path() -> Path:
    base = os.environ.get("DOCKER_CONFIG")
    return Path(base) / "config.json" if base else Path.home() / ".docker" / "config.json"


def podman_auth_paths() -> list[Path]:
    out: list[Path] = []
    explicit = os.environ.get("REGISTRY_AUTH_FILE")
    if explicit:
        out.append(Path(explicit))
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        out.append(Path(runtime) / "containers" / "auth.json")
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    out.append(Path(config_home) / "containers" / "auth.json")
    return out


def docker_server_key(domain: str) -> str:
    """The key docker uses in config.json and with helpers: Hub is `https://index.docker.io/v1/`."""
    if domain in (DOCKER_HUB_DOMAIN, "index.docker.io"):
        return DOCKER_HUB_INDEX_SERVER
    return domain


def convert_to_hostname(key: str) -> str:
    """docker's ConvertToHostname: strip a scheme and any path from a legacy key."""
    for prefix in ("http://", "https://"):
        if key.startswith(prefix):
            key = key[len(prefix) :]
            break
    return key.split("/", 1)[0]


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise CredentialsError(f"loading config file {path}: {exc}") from None
    return doc if isinstance(doc, dict) else None


def _decode_entry(entry: Any) -> Credentials | None:
    if not isinstance(entry, dict):
        return None
    username = str(entry.get("username") or "")
    password = str(entry.get("password") or "")
    auth = entry.get("auth")
    if isinstance(auth, str) and auth:
        try:
            decoded = base64.b64decode(auth, validate=False).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise CredentialsError("invalid auth configuration file") from None
        user, sep, secret = decoded.partition(":")
        if not sep or not user:
            raise CredentialsError("invalid auth configuration file")
        username, password = user, secret.strip("\x00")
    identity = str(entry.get("identitytoken") or "")
    registry_token = str(entry.get("registrytoken") or "")
    if not (username or identity or registry_token):
        return None
    return Credentials(username, password, identity, registry_token)


def run_helper(helper: str, server: str) -> Credentials | None:
    """`docker-credential-<helper> get` with the server URL on stdin."""
    program = shutil.which(f"docker-credential-{helper}")
    if program is None:
        raise CredentialsError(f"docker-credential-{helper}: executable file not found in $PATH")
    try:
        proc = subprocess.run(
            [program, "get"], input=server.encode(), capture_output=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CredentialsError(f"error getting credentials - err: {exc}") from None
    out = proc.stdout.decode(errors="replace").strip()
    if proc.returncode != 0:
        if "credentials not found" in out.lower():
            return None
        raise CredentialsError(
            f"error getting credentials - err: exit status {proc.returncode}, out: `{out}`"
        )
    try:
        doc = json.loads(out)
    except ValueError:
        raise CredentialsError(
            f"error getting credentials - err: invalid helper output: `{out[:200]}`"
        ) from None
    username = str(doc.get("Username") or "")
    secret = str(doc.get("Secret") or "")
    if not secret and not username:
        return None
    if username == IDENTITY_TOKEN_USERNAME:
        return Credentials(identity_token=secret)
    return Credentials(username, secret)


def _from_docker_doc(doc: dict[str, Any], domain: str, *, allow_helpers: bool) -> Credentials | None:
    key = docker_server_key(domain)
    if allow_helpers:
        helpers = doc.get("credHelpers")
        if isinstance(helpers, dict):
            helper = helpers.get(domain) or helpers.get(key)
            if isinstance(helper, str) and helper:
                return run_helper(helper, key)
        store = doc.get("credsStore")
        if isinstance(store, str) and store:
            return run_helper(store, key)
    return find_in_auths(doc, key)


def find_in_auths(doc: dict[str, Any], key: str) -> Credentials | None:
    """The `auths` entry for `key`, or for a legacy key naming the same host (`https://host/v1/`)."""
    auths = doc.get("auths")
    if not isinstance(auths, dict):
        return None
    if key in auths:
        return _decode_entry(auths[key])
    wanted = convert_to_hostname(key)
    for candidate, entry in auths.items():
        if convert_to_hostname(str(candidate)) == wanted:
            return _decode_entry(entry)
    return None


def _from_podman_doc(doc: dict[str, Any], domain: str, repository: str | None) -> Credentials | None:
    auths = doc.get("auths")
    if not isinstance(auths, dict):
        return None
    keys: list[str] = []
    if repository:
        parts = repository.split("/")
        keys += [f"{domain}/{'/'.join(parts[:i])}" for i in range(len(parts), 0, -1)]
    keys.append(domain)
    if domain == DOCKER_HUB_DOMAIN:
        keys.append(DOCKER_HUB_INDEX_SERVER)
    for key in keys:
        if key in auths:
            found = _decode_entry(auths[key])
            if found:
                return found
    return None


def lookup(domain: str, repository: str | None = None) -> Credentials | None:
    """Credentials for `domain` (and optionally `repository`, for podman's namespaced keys)."""
    env = os.environ.get("DOCKER_AUTH_CONFIG")
    if env:
        try:
            doc = json.loads(env)
        except ValueError:
            raise CredentialsError("DOCKER_AUTH_CONFIG is not valid JSON") from None
        if isinstance(doc, dict):
            found = _from_docker_doc(doc, domain, allow_helpers=False)
            if found:
                return found
    docker_doc = _read_json(docker_config_path())
    if docker_doc is not None:
        found = _from_docker_doc(docker_doc, domain, allow_helpers=True)
        if found:
            return found
    for path in podman_auth_paths():
        podman_doc = _read_json(path)
        if podman_doc is not None:
            found = _from_podman_doc(podman_doc, domain, repository)
            if found:
                return found
    return None
