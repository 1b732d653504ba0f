"""Writing and erasing registry credentials where docker keeps them (`login`/`logout`).

docker's rules (cli/config/configfile, docker-credential-helpers):

- The key is `https://index.docker.io/v1/` for Docker Hub and `host[:port]` for the rest.
- The store for a key is `credHelpers[key]`, else `credsStore`, else the file itself.
- A helper is `docker-credential-<name> store|get|erase` exchanging
  `{"ServerURL","Username","Secret"}`; an identity token is stored as the username `<token>`.
  With a helper, the file keeps an empty `auths[key]` entry (as docker writes it).
- In the file, `auths[key]` holds `auth` = base64(`user:password`) and `identitytoken`; an
  identity token replaces the password (`auth` = base64(`user:`)).

`config.json` is rewritten atomically (temporary file, fsync, rename) with mode 0600, under an
exclusive lock on its directory so that concurrent logins do not lose each other's entries.
Every key this module does not write (`credsStore`, `HttpHeaders`, `proxies`, other entries,
unknown fields) is kept as it was read.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cargobay.distclient.config import DOCKER_HUB_DOMAIN, DOCKER_HUB_INDEX_SERVER
from cargobay.distclient.credentials import (
    IDENTITY_TOKEN_USERNAME,
    Credentials,
    CredentialsError,
    convert_to_hostname,
    docker_config_path,
    find_in_auths,
    run_helper,
)

HELPER_TIMEOUT = 60
_HUB_NAMES = (DOCKER_HUB_DOMAIN, "index.docker.io", DOCKER_HUB_INDEX_SERVER)
_NOT_FOUND = "credentials not found"


class CredstoreError(Exception):
    """Storing or erasing failed; `str()` is docker's wording."""


def server_key(server: str | None) -> str:
    """The key `login SERVER` stores under: Hub's `https://index.docker.io/v1/`, else `host[:port]`."""
    server = (server or "").strip()
    if not server or server in _HUB_NAMES:
        return DOCKER_HUB_INDEX_SERVER
    host = convert_to_hostname(server)
    if host in (DOCKER_HUB_DOMAIN, "index.docker.io"):
        return DOCKER_HUB_INDEX_SERVER
    return host


def registry_domain(key: str) -> str:
    """The registry a key names, as references spell it (`docker.io` for Hub)."""
    return DOCKER_HUB_DOMAIN if key == DOCKER_HUB_INDEX_SERVER else key


def logout_keys(server: str | None) -> tuple[str, list[str]]:
    """What `logout SERVER` shows and the keys it erases: `<server>`, `<host>`, `http(s)://<host>`."""
    key = server_key(server)
    if key == DOCKER_HUB_INDEX_SERVER:
        return key, [key]
    keys: list[str] = []
    for candidate in ((server or "").strip(), key, f"http://{key}", f"https://{key}"):
        if candidate and candidate not in keys:
            keys.append(candidate)
    return key, keys


# -- the file --------------------------------------------------------------------------------


def _load(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise CredstoreError(f"loading config file {path}: {exc.strerror or exc}") from None
    if not text.strip():
        return {}
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise CredstoreError(f"loading config file {path}: {exc}") from None
    if not isinstance(doc, dict):
        raise CredstoreError(f"loading config file {path}: not a JSON object")
    return doc


def _auths(doc: dict[str, Any]) -> dict[str, Any]:
    auths = doc.get("auths")
    if not isinstance(auths, dict):
        auths = {}
        doc["auths"] = auths
    return auths


def _write_atomic(path: Path, doc: dict[str, Any]) -> None:
    """Replace `path` by a 0600 file holding `doc` (docker's layout: tab-indented JSON)."""
    target = path.resolve() if path.is_symlink() else path
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = json.dumps(doc, indent="\t").encode()
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o600)
        with contextlib.suppress(FileNotFoundError, PermissionError):
            old = target.stat()
            if (old.st_uid, old.st_gid) != (os.getuid(), os.getgid()):
                os.chown(tmp_name, old.st_uid, old.st_gid)
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on the config directory (no extra file is left behind)."""
    directory = (path.resolve() if path.is_symlink() else path).parent
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(directory, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):  # a filesystem without flock: go on unlocked
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _helper_for(doc: dict[str, Any], key: str) -> str:
    """docker's getConfiguredCredentialStore: `credHelpers[key]`, else `credsStore`, else ''."""
    helpers = doc.get("credHelpers")
    if isinstance(helpers, dict):
        helper = helpers.get(key)
        if isinstance(helper, str) and helper:
            return helper
    store = doc.get("credsStore")
    return store if isinstance(store, str) else ""


def _encode_entry(old: Any, creds: Credentials) -> dict[str, Any]:
    entry: dict[str, Any] = dict(old) if isinstance(old, dict) else {}
    for field in ("username", "password", "serveraddress", "auth", "identitytoken", "registrytoken"):
        entry.pop(field, None)
    if creds.username or creds.password:
        pair = f"{creds.username}:{creds.password}".encode()
        entry["auth"] = base64.b64encode(pair).decode()
    if creds.identity_token:
        entry["identitytoken"] = creds.identity_token
    return entry


# -- helpers ---------------------------------------------------------------------------------


def _run_helper(helper: str, action: str, data: bytes) -> tuple[int, str]:
    name = f"docker-credential-{helper}"
    program = shutil.which(name)
    if program is None:
        raise _HelperMissing(f'exec: "{name}": executable file not found in $PATH')
    try:
        proc = subprocess.run(
            [program, action], input=data, capture_output=True, timeout=HELPER_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        raise _HelperMissing(f"{name} {action}: timed out after {HELPER_TIMEOUT}s") from None
    except OSError as exc:
        raise _HelperMissing(f"fork/exec {program}: {exc.strerror or exc}") from None
    return proc.returncode, proc.stdout.decode(errors="replace").strip()


class _HelperMissing(Exception):
    pass


def _helper_store(helper: str, key: str, creds: Credentials) -> None:
    username, secret = creds.username, creds.password
    if creds.identity_token:
        username, secret = IDENTITY_TOKEN_USERNAME, creds.identity_token
    payload = json.dumps({"ServerURL": key, "Username": username, "Secret": secret}) + "\n"
    try:
        code, out = _run_helper(helper, "store", payload.encode())
    except _HelperMissing as exc:
        raise CredstoreError(f"error storing credentials - err: {exc}, out: ``") from None
    if code != 0:
        raise CredstoreError(f"error storing credentials - err: exit status {code}, out: `{out}`")


# -- the operations --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Stored:
    """Where `store` put the credentials: `helper` is empty for the file at `path`."""

    path: Path
    helper: str = ""

    @property
    def in_file(self) -> bool:
        return not self.helper


def store(key: str, creds: Credentials, path: Path | None = None) -> Stored:
    """Save `creds` under `key` in its store (helper or file); docker's `storeCredentials`."""
    path = path or docker_config_path()
    try:
        with _locked(path):
            doc = _load(path)
            helper = _helper_for(doc, key)
            auths = _auths(doc)
            if helper:
                _helper_store(helper, key, creds)
                auths[key] = _encode_entry(auths.get(key), Credentials())
            else:
                auths[key] = _encode_entry(auths.get(key), creds)
            _write_atomic(path, doc)
    except OSError as exc:
        raise CredstoreError(f"{exc.strerror or exc}: {exc.filename or path}") from None
    return Stored(path, helper)


def get(key: str, path: Path | None = None) -> Credentials | None:
    """What is stored under `key` (helper or file, docker's lookup), or None."""
    path = path or docker_config_path()
    doc = _load(path)
    helper = _helper_for(doc, key)
    try:
        if helper:
            return run_helper(helper, key)
        return find_in_auths(doc, key)
    except CredentialsError as exc:
        raise CredstoreError(str(exc)) from None
    return None


@dataclass
class EraseResult:
    """`erased`: keys that held credentials; `errors`: key → docker's error text."""

    erased: list[str]
    errors: dict[str, str]
    not_found: list[str]


def erase(keys: list[str], path: Path | None = None) -> EraseResult:
    """Erase each key from its store; a file entry goes too (even when a helper holds the secret)."""
    path = path or docker_config_path()
    result = EraseResult([], {}, [])
    if not path.exists():  # nothing stored, no helper configured: create nothing either
        result.not_found.extend(keys)
        return result
    try:
        with _locked(path):
            doc = _load(path)
            auths = doc.get("auths")
            changed = False
            for key in keys:
                found = False
                helper = _helper_for(doc, key)
                if helper:
                    try:
                        code, out = _run_helper(helper, "erase", key.encode())
                    except _HelperMissing as exc:
                        result.errors[key] = f"error erasing credentials - err: {exc}, out: ``"
                        continue
                    if code == 0:
                        found = True
                    elif _NOT_FOUND not in out.lower():
                        result.errors[key] = (
                            f"error erasing credentials - err: exit status {code}, out: `{out}`"
                        )
                        continue
                if isinstance(auths, dict) and key in auths:
                    entry = auths.pop(key)
                    changed = True
                    if isinstance(entry, dict) and any(entry.get(f) for f in _SECRET_FIELDS):
                        found = True
                (result.erased if found else result.not_found).append(key)
            if changed:
                _write_atomic(path, doc)
    except OSError as exc:
        raise CredstoreError(f"{exc.strerror or exc}: {exc.filename or path}") from None
    return result


_SECRET_FIELDS = ("auth", "username", "password", "identitytoken", "registrytoken")
