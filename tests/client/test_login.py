"""`cargobay login` / `cargobay logout` against real registries on loopback: a token-auth hub
(passwords, access tokens, refresh tokens stored as identity tokens), a Basic-auth registry
(distribution behind the client tests' auth proxy) and an open one; credentials in the file and
through credential helpers (a small `docker-credential-test` program written per test); what is
stored is read back by `cargobay pull/push` and by skopeo.

Every command runs with a private HOME, DOCKER_CONFIG, XDG dirs and auth file (the `cb` fixture
plus HOME), so the machine's own credentials are never read or touched.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import pty
import stat
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from support.http import request
from support.images import OciImage
from support.servers import Hub, start_hub
from support.tools import Skopeo

PASSWORD = "Sup3r-secret-pw"
HUB_KEY = "https://index.docker.io/v1/"
WARNING_LINES = [
    "WARNING! Your credentials are stored unencrypted in '{path}'.",
    "Configure a credential helper to remove this warning. See",
    "https://docs.docker.com/go/credential-store/",
]

# --------------------------------------------------------------------------- fixtures

HELPER = textwrap.dedent(
    """\
    #!{python}
    # docker-credential-test: the credential helper protocol over a JSON file ($TEST_CRED_FILE).
    import json, os, sys

    path = os.environ["TEST_CRED_FILE"]
    action = sys.argv[1]
    data = json.load(open(path)) if os.path.exists(path) else {{}}
    with open(path + ".log", "a") as log:
        log.write(action + "\\n")
    if os.environ.get("TEST_CRED_FAIL") == action:
        print("helper refused: " + action)
        sys.exit(1)
    if action == "store":
        doc = json.loads(sys.stdin.read())
        data[doc["ServerURL"]] = {{"Username": doc["Username"], "Secret": doc["Secret"]}}
    elif action in ("get", "erase"):
        url = sys.stdin.read().strip()
        if url not in data:
            print("credentials not found in native keychain")
            sys.exit(1)
        if action == "get":
            print(json.dumps({{"ServerURL": url, **data[url]}}))
            sys.exit(0)
        del data[url]
    elif action == "list":
        print(json.dumps({{k: v["Username"] for k, v in data.items()}}))
        sys.exit(0)
    with open(path, "w") as out:
        json.dump(data, out)
    """
)


class LoginEnv:
    """`cb` plus a private HOME and a `docker-credential-test` helper on PATH."""

    def __init__(self, cb: Any, tmp_path: Path) -> None:
        self.cb = cb
        home = tmp_path / "home"
        home.mkdir()
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        helper = bin_dir / "docker-credential-test"
        helper.write_text(HELPER.format(python=sys.executable))
        helper.chmod(0o755)
        self.helper_file = tmp_path / "helper-store.json"
        cb.env.update(
            HOME=str(home),
            PATH=f"{bin_dir}{os.pathsep}{cb.env.get('PATH', '')}",
            TEST_CRED_FILE=str(self.helper_file),
        )

    @property
    def config_path(self) -> Path:
        return Path(self.cb.env["DOCKER_CONFIG"]) / "config.json"

    def config(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.config_path.read_text())
        return doc

    def write_config(self, doc: dict[str, Any]) -> None:
        self.cb.write_docker_config(doc)

    def helper_data(self) -> dict[str, Any]:
        if not self.helper_file.exists():
            return {}
        data: dict[str, Any] = json.loads(self.helper_file.read_text())
        return data

    def helper_calls(self) -> list[str]:
        log = Path(f"{self.helper_file}.log")
        return log.read_text().split() if log.exists() else []

    def run(
        self, *args: str, input: str | bytes | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        data = input.encode() if isinstance(input, str) else input
        result = subprocess.run(
            [sys.executable, "-m", "cargobay", *args],
            env={**self.cb.env, **(env or {})},
            input=data,
            stdin=None if data is not None else subprocess.DEVNULL,
            capture_output=True,
            timeout=60,
            check=False,
        )
        return subprocess.CompletedProcess(
            result.args, result.returncode, result.stdout.decode(), result.stderr.decode()
        )

    def login(self, server: str, user: str, password: str = PASSWORD) -> subprocess.CompletedProcess[str]:
        return self.run("login", server, "-u", user, "--password-stdin", input=password + "\n")


@pytest.fixture
def env(cb: Any, tmp_path: Path) -> LoginEnv:
    return LoginEnv(cb, tmp_path)


@pytest.fixture(scope="module")
def token_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """A hub with token auth whose new repositories are private."""
    server = start_hub(
        tmp_path_factory.mktemp("login-hub"),
        workers=1,
        env={"CARGOBAY_AUTH": "token", "CARGOBAY_DEFAULT_VISIBILITY": "private"},
    )
    yield server
    server.close()


@pytest.fixture
def make_user(token_hub: Hub) -> Callable[[], str]:
    """Signs up an account on the hub (`POST /api/users`), returns its name.

    Through the running hub rather than `cargobay admin user create`, so that the account is
    written by the same code that reads it."""

    def make() -> str:
        name = f"u{uuid.uuid4().hex[:10]}"
        body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
        answer = request(
            "POST",
            f"{token_hub.base_url}/api/users",
            headers={"Content-Type": "application/json"},
            data=json.dumps(body).encode(),
        )
        assert answer.status == 201, answer.body
        return name

    return make


@pytest.fixture
def user(make_user: Callable[[], str]) -> str:
    return make_user()


@pytest.fixture(scope="module")
def small_image(
    tmp_path_factory: pytest.TempPathFactory, make_oci_image: Callable[..., OciImage]
) -> OciImage:
    return make_oci_image(tmp_path_factory.mktemp("login-image"), layers=1, layer_size=512)


def push_private(skopeo: Skopeo, hub: Hub, user: str, image: OciImage, repo: str = "app") -> str:
    """skopeo pushes `image` to `USER/REPO:v1` (private: the hub's default); returns the reference."""
    ref = f"{hub.url}/{user}/{repo}:v1"
    skopeo(
        "copy", "--dest-tls-verify=false", "--dest-creds", f"{user}:{PASSWORD}", image.ref, f"docker://{ref}"
    )
    return ref


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def assert_file_warning(result: subprocess.CompletedProcess[str], path: Path) -> None:
    expected = "\n" + "\n".join(WARNING_LINES).format(path=path) + "\n\n"
    assert expected in result.stderr, result.stderr


# --------------------------------------------------------------------------- flags (no network)


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["-u", "bob", "-p", "x", "--password-stdin"], "pw", "conflicting options: cannot specify both --password and --password-stdin"),
        (["--password-stdin"], "pw", "the --password-stdin option requires --username to be set"),
        (["-p", "-", "--password-stdin", "-u", "bob"], "pw", "conflicting options: cannot specify both --password and --password-stdin"),
        (["-u", "", "-p", "x"], None, "username is empty"),
        (["-u", "  ", "--password-stdin"], "pw", "username is empty"),
        (["-u", "bob", "-p", ""], None, "password is empty"),
        (["-u", "bob", "--password-stdin"], "", "password is empty"),
        (["-u", "bob", "--password-stdin"], "\n", "password is empty"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("server", [[], ["docker.io"], ["127.0.0.1:1"]])
def test_flag_errors_come_first_in_dockers_words(
    env: LoginEnv, args: list[str], stdin: str | None, message: str, server: list[str]
) -> None:
    result = env.run("login", *server, *args, input=stdin)
    assert result.returncode == 1
    assert lines(result.stderr) == [f"Error: {message}"]
    assert result.stdout == ""
    assert not env.config_path.exists()


@pytest.mark.parametrize("server", [[], ["docker.io"], ["127.0.0.1:1"]])
def test_prompting_without_a_tty_fails(env: LoginEnv, server: list[str]) -> None:
    for extra in ([], ["-u", "bob"]):
        result = env.run("login", *server, *extra)
        assert result.returncode == 1
        assert lines(result.stderr) == ["error: cannot perform an interactive login from a non-TTY device"]
        assert not env.config_path.exists()


def test_password_on_the_command_line_warns(env: LoginEnv, token_hub: Hub, user: str) -> None:
    result = env.run("login", token_hub.url, "-u", user, "-p", PASSWORD)
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith(
        "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n"
    )
    assert result.stdout == "Login Succeeded\n"


# --------------------------------------------------------------------------- the token-auth hub


def test_login_stores_a_refresh_token_in_place_of_the_password(
    env: LoginEnv, token_hub: Hub, user: str
) -> None:
    env.write_config(
        {
            "auths": {"other.example.com": {"auth": b64("bob:pw"), "email": "bob@example.com"}},
            "HttpHeaders": {"X-Meta": "v"},
            "psFormat": "table {{.ID}}",
            "proxies": {"default": {"noProxy": "127.0.0.1"}},
            "somethingNew": [1, 2, {"x": None}],
        }
    )
    env.config_path.chmod(0o644)
    result = env.login(token_hub.url, user)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Login Succeeded\n"
    assert_file_warning(result, env.config_path)

    doc = env.config()
    entry = doc["auths"][token_hub.url]
    assert entry["auth"] == b64(f"{user}:")  # the password is not stored
    assert entry["identitytoken"].count(".") == 2
    assert PASSWORD not in env.config_path.read_text()
    assert doc["auths"]["other.example.com"] == {"auth": b64("bob:pw"), "email": "bob@example.com"}
    assert doc["HttpHeaders"] == {"X-Meta": "v"}
    assert doc["psFormat"] == "table {{.ID}}"
    assert doc["proxies"] == {"default": {"noProxy": "127.0.0.1"}}
    assert doc["somethingNew"] == [1, 2, {"x": None}]
    assert stat.S_IMODE(env.config_path.stat().st_mode) == 0o600
    assert sorted(p.name for p in env.config_path.parent.iterdir()) == ["config.json"]  # no temp left


def test_the_identity_token_is_refreshed_with_dockers_oauth_grant(
    env: LoginEnv, token_hub: Hub, user: str
) -> None:
    assert env.login(token_hub.url, user).returncode == 0
    identity = env.config()["auths"][token_hub.url]["identitytoken"]
    answer = request(
        "POST",
        f"{token_hub.base_url}/token",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        data=f"grant_type=refresh_token&refresh_token={identity}&service=cargobay&client_id=cargobay".encode(),
    )
    assert answer.status == 200, answer.body
    assert json.loads(answer.body)["access_token"]


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r", ""])
def test_password_stdin_strips_one_line_ending(env: LoginEnv, token_hub: Hub, user: str, ending: str) -> None:
    result = env.run("login", token_hub.url, "-u", user, "--password-stdin", input=PASSWORD + ending)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Login Succeeded\n"


def test_password_stdin_strips_only_one_line_ending(env: LoginEnv, token_hub: Hub, user: str) -> None:
    result = env.run("login", token_hub.url, "-u", user, "--password-stdin", input=PASSWORD + "\n\n")
    assert result.returncode == 1
    assert "unauthorized: incorrect username or password" in result.stderr


def test_password_dash_reads_stdin(env: LoginEnv, token_hub: Hub, user: str) -> None:
    result = env.run("login", token_hub.url, "-u", user, "-p", "-", input=PASSWORD + "\n")
    assert result.returncode == 0, result.stderr
    assert "insecure" not in result.stderr


def test_wrong_password_is_one_line_and_stores_nothing(env: LoginEnv, token_hub: Hub, user: str) -> None:
    env.write_config({"auths": {}, "credsStore": ""})
    before = env.config_path.read_text()
    result = env.login(token_hub.url, user, "not-the-password")
    assert result.returncode == 1
    assert lines(result.stderr) == [
        f'Error: Get "http://{token_hub.url}/v2/": unauthorized: incorrect username or password'
    ]
    assert result.stdout == ""
    assert env.config_path.read_text() == before


def test_personal_access_token_as_password(env: LoginEnv, token_hub: Hub, user: str) -> None:
    answer = request(
        "POST",
        f"{token_hub.base_url}/api/access-tokens",
        headers={
            "Authorization": "Basic " + b64(f"{user}:{PASSWORD}"),
            "Content-Type": "application/json",
        },
        data=json.dumps({"token_label": "ci", "scope": "read"}).encode(),
    )
    assert answer.status == 201, answer.body
    pat = json.loads(answer.body)["token"]
    assert pat.startswith("cbpat_")
    result = env.login(token_hub.url, user, pat)
    assert result.returncode == 0, result.stderr
    # the hub gives no refresh token for an access token: the token itself is stored
    assert env.config()["auths"][token_hub.url] == {"auth": b64(f"{user}:{pat}")}
    again = env.run("login", token_hub.url)
    assert again.returncode == 0, again.stderr
    assert f"Authenticating with existing credentials... [Username: {user}]" in again.stderr


def test_existing_credentials_are_checked_and_kept(env: LoginEnv, token_hub: Hub, user: str) -> None:
    assert env.login(token_hub.url, user).returncode == 0
    result = env.run("login", token_hub.url)
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith(f"Authenticating with existing credentials... [Username: {user}]\n")
    assert result.stdout == "Login Succeeded\n"
    assert env.config()["auths"][token_hub.url]["auth"] == b64(f"{user}:")


def test_invalid_stored_credentials_fall_back_to_a_prompt(env: LoginEnv, token_hub: Hub, user: str) -> None:
    env.write_config({"auths": {token_hub.url: {"identitytoken": "garbage", "auth": b64(f"{user}:")}}})
    result = env.run("login", token_hub.url)
    assert result.returncode == 1
    assert lines(result.stderr)[0] == f"Authenticating with existing credentials... [Username: {user}]"
    assert lines(result.stderr)[-2:] == [
        "Stored credentials invalid or expired",
        "error: cannot perform an interactive login from a non-TTY device",
    ]
    assert env.config()["auths"][token_hub.url]["identitytoken"] == "garbage"


def test_interactive_login_on_a_terminal(env: LoginEnv, token_hub: Hub, user: str) -> None:
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cargobay", "login", token_hub.url],
        env=env.cb.env, stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    os.close(slave)
    try:
        assert proc.stdout is not None
        prompt = b""

        def read_until(text: bytes) -> None:
            nonlocal prompt
            while not prompt.endswith(text):
                chunk = proc.stdout.read1(100) if proc.stdout else b""  # type: ignore[attr-defined]
                assert chunk, (prompt, proc.stderr.read() if proc.stderr else b"")
                prompt += chunk

        read_until(b"Username: ")
        os.write(master, f"{user}\n".encode())
        read_until(b"Password: ")
        os.write(master, f"{PASSWORD}\n".encode())
        out, err = proc.communicate(timeout=60)
        echoed = b""
        os.set_blocking(master, False)
        with contextlib.suppress(OSError):
            while chunk := os.read(master, 4096):
                echoed += chunk
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert (prompt + out).decode() == "Username: Password: \nLogin Succeeded\n"
    assert user.encode() in echoed and PASSWORD.encode() not in echoed
    assert env.config()["auths"][token_hub.url]["auth"] == b64(f"{user}:")


def test_unreachable_registry(env: LoginEnv) -> None:
    result = env.run("login", "127.0.0.1:1", "-u", "bob", "--password-stdin", input="pw")
    assert result.returncode == 1
    assert lines(result.stderr) == [
        'Error: Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused'
    ]
    assert not env.config_path.exists()


def test_server_given_as_url_is_stored_by_host(env: LoginEnv, token_hub: Hub, user: str) -> None:
    result = env.login(f"http://{token_hub.url}/", user)
    assert result.returncode == 0, result.stderr
    assert list(env.config()["auths"]) == [token_hub.url]


def test_concurrent_logins_keep_each_others_entries(
    env: LoginEnv, token_hub: Hub, make_user: Callable[[], str], make_proxy: Callable[..., Any]
) -> None:
    proxies = [make_proxy(auth="basic", users={"alice": "s3cret"}) for _ in range(4)]
    name = make_user()
    with ThreadPoolExecutor(5) as pool:
        jobs = [pool.submit(env.login, p.url, "alice", "s3cret") for p in proxies]
        jobs.append(pool.submit(env.login, token_hub.url, name))
        results = [job.result() for job in jobs]
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    assert set(env.config()["auths"]) == {token_hub.url, *(p.url for p in proxies)}


# --------------------------------------------------------------------------- read back by pull, push, skopeo


def test_pull_and_push_use_the_stored_login_and_logout_ends_it(
    env: LoginEnv, token_hub: Hub, user: str, skopeo: Skopeo, small_image: OciImage
) -> None:
    ref = push_private(skopeo, token_hub, user, small_image)

    anonymous = env.run("pull", ref)
    assert anonymous.returncode == 1
    denied = anonymous.stderr.strip()

    assert env.login(token_hub.url, user).returncode == 0
    pulled = env.run("pull", ref)
    assert pulled.returncode == 0, pulled.stderr
    assert pulled.stdout.strip().endswith(ref)
    target = f"{token_hub.url}/{user}/copy:v2"
    assert env.run("tag", ref, target).returncode == 0
    pushed = env.run("push", target)
    assert pushed.returncode == 0, pushed.stderr
    assert f"v2: digest: {small_image.digest}" in pushed.stdout

    out = env.run("logout", token_hub.url)
    assert out.returncode == 0
    assert out.stdout == f"Removing login credentials for {token_hub.url}\n"
    assert out.stderr == ""
    assert token_hub.url not in env.config()["auths"]
    assert env.run("rmi", ref).returncode == 0
    after = env.run("pull", ref)
    assert after.returncode == 1
    assert after.stderr.strip() == denied
    assert lines(after.stderr) == [denied]
    # the hub answers for a private repository as for a missing one (docs/accounts.md)
    assert denied in (
        f"Error: manifest for {ref} not found: manifest unknown: manifest unknown",
        f"Error: pull access denied for {ref.rsplit(':', 1)[0]}, repository does not exist or may require "
        "'docker login': denied: requested access to the resource is denied",
    )


def test_podman_reads_what_login_stored(
    env: LoginEnv, token_hub: Hub, user: str, skopeo: Skopeo, small_image: OciImage, podman: Any
) -> None:
    ref = push_private(skopeo, token_hub, user, small_image, "podman")
    assert env.login(token_hub.url, user).returncode == 0
    pulled = podman("pull", "--tls-verify=false", "--authfile", str(env.config_path), ref, check=False)
    assert pulled.returncode == 0, pulled.stderr


def test_config_directory_is_created_private(
    env: LoginEnv, token_hub: Hub, user: str, tmp_path: Path
) -> None:
    config_dir = tmp_path / "new" / "docker"
    result = env.run(
        "login",
        token_hub.url,
        "-u",
        user,
        "--password-stdin",
        input=PASSWORD,
        env={"DOCKER_CONFIG": str(config_dir)},
    )
    assert result.returncode == 0, result.stderr
    assert_file_warning(result, config_dir / "config.json")
    assert stat.S_IMODE(config_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((config_dir / "config.json").stat().st_mode) == 0o600


def test_a_symlinked_config_file_is_followed(
    env: LoginEnv, token_hub: Hub, user: str, tmp_path: Path
) -> None:
    real = tmp_path / "dotfiles" / "docker-config.json"
    real.parent.mkdir()
    real.write_text(json.dumps({"credsStore": ""}))
    env.config_path.symlink_to(real)
    assert env.login(token_hub.url, user).returncode == 0
    assert env.config_path.is_symlink()
    assert token_hub.url in json.loads(real.read_text())["auths"]
    assert env.run("logout", token_hub.url).returncode == 0
    assert env.config_path.is_symlink()
    assert json.loads(real.read_text()) == {"credsStore": "", "auths": {}}


def test_skopeo_reads_what_login_stored(
    env: LoginEnv, token_hub: Hub, user: str, skopeo: Skopeo, small_image: OciImage
) -> None:
    ref = push_private(skopeo, token_hub, user, small_image, "seen")
    authfile = str(env.config_path)
    assert env.login(token_hub.url, user).returncode == 0
    seen = skopeo("inspect", "--tls-verify=false", "--authfile", authfile, f"docker://{ref}", check=False)
    assert seen.returncode == 0, seen.stderr
    assert json.loads(seen.stdout)["Digest"] == small_image.digest
    assert env.run("logout", token_hub.url).returncode == 0
    gone = skopeo("inspect", "--tls-verify=false", "--authfile", authfile, f"docker://{ref}", check=False)
    assert gone.returncode != 0


# --------------------------------------------------------------------------- credential helpers


@pytest.mark.parametrize("how", ["credsStore", "credHelpers"])
def test_login_and_logout_through_a_credential_helper(
    env: LoginEnv, token_hub: Hub, user: str, skopeo: Skopeo, small_image: OciImage, how: str
) -> None:
    ref = push_private(skopeo, token_hub, user, small_image, f"helper-{how.lower()}")
    config: dict[str, Any] = {"auths": {token_hub.url: {"auth": b64("old:plaintext")}}}
    config[how] = "test" if how == "credsStore" else {token_hub.url: "test"}
    env.write_config(config)

    result = env.login(token_hub.url, user)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Login Succeeded\n"
    assert "unencrypted" not in result.stderr
    stored = env.helper_data()[token_hub.url]
    assert stored["Username"] == "<token>"  # the refresh token, as docker stores identity tokens
    assert stored["Secret"].count(".") == 2
    doc = env.config()
    assert doc["auths"][token_hub.url] == {}  # docker's empty entry; the plaintext is gone
    assert doc[how] == config[how]

    pulled = env.run("pull", ref)
    assert pulled.returncode == 0, pulled.stderr

    again = env.run("login", token_hub.url)  # the identity token from the helper is checked
    assert again.returncode == 0, again.stderr
    assert lines(again.stderr)[0] == "Authenticating with existing credentials..."
    assert again.stdout == "Login Succeeded\n"
    assert env.helper_data()[token_hub.url] == stored

    out = env.run("logout", token_hub.url)
    assert out.returncode == 0
    assert out.stdout == f"Removing login credentials for {token_hub.url}\n"
    assert out.stderr == ""
    assert env.helper_data() == {}
    assert token_hub.url not in env.config()["auths"]
    assert "erase" in env.helper_calls()


def test_helper_store_failure(env: LoginEnv, token_hub: Hub, user: str) -> None:
    env.write_config({"credsStore": "test"})
    result = env.run(
        "login",
        token_hub.url,
        "-u",
        user,
        "--password-stdin",
        input=PASSWORD,
        env={"TEST_CRED_FAIL": "store"},
    )
    assert result.returncode == 1
    assert lines(result.stderr) == [
        "Error: error saving credentials: error storing credentials - err: exit status 1, "
        "out: `helper refused: store`"
    ]
    assert result.stdout == ""
    assert env.config() == {"credsStore": "test"}


def test_missing_helper_program(env: LoginEnv, token_hub: Hub, user: str) -> None:
    env.write_config({"credsStore": "nosuchhelper"})
    result = env.login(token_hub.url, user)
    assert result.returncode == 1
    assert lines(result.stderr) == [
        "Error: error saving credentials: error storing credentials - err: "
        'exec: "docker-credential-nosuchhelper": executable file not found in $PATH, out: ``'
    ]


def test_hub_key_through_a_helper(env: LoginEnv) -> None:
    """Docker Hub's key without contacting it: logout erases `https://index.docker.io/v1/`."""
    env.helper_file.write_text(json.dumps({HUB_KEY: {"Username": "bob", "Secret": "pw"}}))
    env.write_config({"credsStore": "test", "auths": {HUB_KEY: {}}})
    for server in ([], ["docker.io"]):
        result = env.run("logout", *server)
        assert result.returncode == 0
        assert result.stdout == f"Removing login credentials for {HUB_KEY}\n"
    assert env.helper_data() == {}
    assert env.config()["auths"] == {}


def test_logout_warns_only_when_every_erase_failed(env: LoginEnv) -> None:
    env.write_config({"credsStore": "test"})
    result = env.run("logout", "registry.example.com:5000", env={"TEST_CRED_FAIL": "erase"})
    assert result.returncode == 0
    assert result.stdout == "Removing login credentials for registry.example.com:5000\n"
    err = lines(result.stderr)
    assert err[0] == "WARNING: could not erase credentials:"
    assert sorted(err[1:]) == sorted(
        f"{key}: error erasing credentials - err: exit status 1, out: `helper refused: erase`"
        for key in (
            "registry.example.com:5000",
            "http://registry.example.com:5000",
            "https://registry.example.com:5000",
        )
    )


# --------------------------------------------------------------------------- logout and the file


def test_logout_erases_every_spelling_of_the_host(env: LoginEnv) -> None:
    host = "registry.example.com:5000"
    env.write_config(
        {
            "auths": {
                host: {"auth": b64("a:1")},
                f"http://{host}": {"auth": b64("a:2")},
                f"https://{host}": {"auth": b64("a:3")},
                "other.example.com": {"auth": b64("b:4")},
            },
            "currentContext": "x",
        }
    )
    result = env.run("logout", f"https://{host}")
    assert result.returncode == 0
    assert result.stdout == f"Removing login credentials for {host}\n"
    assert result.stderr == ""
    assert env.config() == {"auths": {"other.example.com": {"auth": b64("b:4")}}, "currentContext": "x"}


@pytest.mark.parametrize("server", [[], ["docker.io"], ["index.docker.io"]])
def test_logout_from_docker_hub_uses_the_index_key(env: LoginEnv, server: list[str]) -> None:
    env.write_config({"auths": {HUB_KEY: {"auth": b64("bob:pw")}, "docker.io": {"auth": b64("x:y")}}})
    result = env.run("logout", *server)
    assert result.returncode == 0
    assert result.stdout == f"Removing login credentials for {HUB_KEY}\n"
    assert env.config()["auths"] == {"docker.io": {"auth": b64("x:y")}}


@pytest.mark.parametrize("config", [None, {"auths": {}}, {"credsStore": "test"}])
def test_logout_when_not_logged_in(env: LoginEnv, config: dict[str, Any] | None) -> None:
    if config is not None:
        env.write_config(config)
    result = env.run("logout", "127.0.0.1:5999")
    assert result.returncode == 0
    assert result.stdout == "Removing login credentials for 127.0.0.1:5999\n"
    assert lines(result.stderr) == ["Not logged in to 127.0.0.1:5999: no credentials were stored for it"]
    if config is None:
        assert not env.config_path.exists()


def test_broken_config_file_is_reported(env: LoginEnv, token_hub: Hub, user: str) -> None:
    env.config_path.write_text("{not json")
    result = env.login(token_hub.url, user)
    assert result.returncode == 1
    assert lines(result.stderr)[-1].startswith(
        f"Error: error saving credentials: loading config file {env.config_path}"
    )
    assert env.config_path.read_text() == "{not json"
    out = env.run("logout", token_hub.url)
    assert out.returncode == 1
    assert f"loading config file {env.config_path}" in out.stderr


# --------------------------------------------------------------------------- Basic auth and open registries


def test_basic_auth_registry(env: LoginEnv, make_proxy: Callable[..., Any], seed: Callable[..., Any]) -> None:
    proxy = make_proxy(auth="basic", users={"alice": "s3cret"})
    seeded = seed()
    wrong = env.login(proxy.url, "alice", "nope")
    assert wrong.returncode == 1
    assert lines(wrong.stderr) == [
        f"Error: login attempt to http://{proxy.url}/v2/ failed with status: 401 Unauthorized"
    ]
    assert not env.config_path.exists()

    ok = env.login(proxy.url, "alice", "s3cret")
    assert ok.returncode == 0, ok.stderr
    assert env.config()["auths"][proxy.url] == {"auth": b64("alice:s3cret")}
    ref = f"{proxy.url}/{seeded.repository}:{seeded.tag}"
    pulled = env.run("pull", ref)
    assert pulled.returncode == 0, pulled.stderr

    assert env.run("logout", proxy.url).returncode == 0
    assert env.run("rmi", ref).returncode == 0
    assert env.run("pull", ref).returncode == 1


def test_open_registry_login_succeeds_as_with_docker(env: LoginEnv, distribution_url: str) -> None:
    result = env.login(distribution_url, "anyone", "anything")
    assert result.returncode == 0, result.stderr
    assert env.config()["auths"][distribution_url] == {"auth": b64("anyone:anything")}


def test_stored_credentials_and_an_unreachable_registry(env: LoginEnv) -> None:
    """The real reason is shown (docker would fall back to a prompt and hide it)."""
    env.write_config({"auths": {"127.0.0.1:1": {"auth": b64("bob:pw")}}})
    result = env.run("login", "127.0.0.1:1")
    assert result.returncode == 1
    assert lines(result.stderr)[0] == "Authenticating with existing credentials... [Username: bob]"
    assert lines(result.stderr)[-1] == (
        'Error: Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused'
    )
    assert env.config()["auths"]["127.0.0.1:1"] == {"auth": b64("bob:pw")}


def test_docker_auth_config_is_flagged(env: LoginEnv, token_hub: Hub, user: str) -> None:
    result = env.run(
        "login", token_hub.url, "-u", user, "--password-stdin", input=PASSWORD,
        env={"DOCKER_AUTH_CONFIG": json.dumps({"auths": {}})},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "DOCKER_AUTH_CONFIG is set" in lines(result.stderr)[0]
