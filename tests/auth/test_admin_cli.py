"""`cargobay admin` against the database of a running hub (token auth, registration closed):
accounts made, changed and deleted from the host take effect at once; key rotation keeps old
tokens valid; every mistake is one line on stderr and a non-zero exit."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from apiclient import Api, bearer, jwt_header, unique_name

from cargobay.registry.tokens import KeyRing, TokenIssuer
from support.servers import Hub, hub_env, start_hub

ADMIN_PASSWORD = "Adm1n-password"


@pytest.fixture(scope="module")
def closed_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    server = start_hub(
        tmp_path_factory.mktemp("closed-hub"),
        workers=2,
        env={"CARGOBAY_AUTH": "token", "CARGOBAY_OPEN_REGISTRATION": "false"},
    )
    yield server
    server.close()


def admin(
    hub: Hub, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``cargobay admin ARGS --data-dir <the hub's>`` with the environment of a clean shell."""
    return subprocess.run(
        [sys.executable, "-m", "cargobay", "admin", *args, "--data-dir", str(hub.data_dir)],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        env={**hub_env(None, None), **(env or {})},
        timeout=60,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    return result.stdout.strip()


def create_user(
    hub: Hub, name: str, password: str, *options: str, email: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`cargobay admin user create` with the password on stdin."""
    email = email or f"{name}@example.test"
    return admin(
        hub,
        "user",
        "create",
        "--username",
        name,
        "--email",
        email,
        "--password-stdin",
        *options,
        stdin=password,
    )


def test_registration_closed_but_admin_can_bootstrap(closed_hub: Hub) -> None:
    api = Api(closed_hub.url)
    refused = api.call(
        "POST", "/api/users", {"username": unique_name(), "email": "x@example.test", "password": "Pa55word!"}
    )
    assert refused.status == 403 and "closed" in refused.json()["message"]

    root = unique_name("root")
    created = create_user(closed_hub, root, ADMIN_PASSWORD + "\n", "--admin")
    assert ok(created) == f"Created administrator {root}" and created.stderr == ""
    # the trailing newline of the piped password is not part of it
    me = api.call("GET", "/api/user", auth=(root, ADMIN_PASSWORD))
    assert me.status == 200 and me.json()["is_admin"] is True
    # an administrator may push official images
    assert api.granted("repository:library/base:pull,push", (root, ADMIN_PASSWORD)) == (
        "repository:library/base:pull,push"
    )


def test_user_and_org_commands_take_effect_on_the_running_hub(closed_hub: Hub) -> None:
    api = Api(closed_hub.url)
    name, first, second = unique_name(), "F1rst-password", "S3cond-password"
    email = f"{name}@example.test"
    ok(create_user(closed_hub, name, first, email=email))
    assert api.call("GET", "/api/user", auth=(name, first)).json()["is_admin"] is False
    taken = create_user(closed_hub, name, first, email="o@example.test")
    assert_one_error_line(taken, "this username is taken")

    assert ok(
        admin(closed_hub, "user", "passwd", "--username", name, "--password-stdin", stdin=second + "\n")
    ) == (f"Changed the password of {name}")
    assert api.call("GET", "/api/user", auth=(name, first)).status == 401
    assert api.call("GET", "/api/user", auth=(name, second)).json()["is_admin"] is False

    assert ok(admin(closed_hub, "user", "set-admin", "--username", name)) == f"{name} is now an administrator"
    assert api.call("GET", "/api/user", auth=(name, second)).json()["is_admin"] is True
    assert ok(admin(closed_hub, "user", "set-admin", "--username", name, "--revoke")) == (
        f"{name} is no longer an administrator"
    )

    org = unique_name("org")
    assert ok(admin(closed_hub, "org", "create", "--name", org, "--owner", name)) == (
        f"Created organisation {org} (owner {name})"
    )
    assert_one_error_line(
        admin(closed_hub, "org", "create", "--name", org, "--owner", name), "this name is taken"
    )
    members = api.call("GET", f"/api/orgs/{org}/members", auth=(name, second)).json()
    assert members["results"] == [{"username": name, "role": "owner"}]
    assert api.granted(f"repository:{org}/app:pull,push", (name, second)) == f"repository:{org}/app:pull,push"

    assert ok(admin(closed_hub, "user", "delete", "--username", name)) == f"Deleted user {name}"
    assert api.call("GET", "/api/user", auth=(name, second)).status == 401


@pytest.mark.parametrize(
    ("args", "stdin", "env", "message"),
    [
        (
            ["user", "create", "--username", "weakling", "--email", "w@example.test", "--password-stdin"],
            "short\n",
            None,
            "password must be 8 to 256 characters",
        ),
        (
            ["user", "create", "--username", "nopasswd", "--email", "n@example.test"],
            "",
            None,
            "--password-stdin",
        ),
        (
            ["user", "passwd", "--username", "ghostuser", "--password-stdin"],
            "Pa55word!",
            None,
            "no such user: ghostuser",
        ),
        (["user", "delete", "--username", "ghostuser"], None, None, "no such user: ghostuser"),
        (
            ["org", "create", "--name", "ghostorg", "--owner", "ghostuser"],
            None,
            None,
            "no such user: ghostuser",
        ),
        (
            ["user", "delete", "--username", "x", "--database-url", "mysql://x/y"],
            None,
            None,
            "unsupported database",
        ),
        (["keys", "rotate"], None, {"CARGOBAY_TOKEN_LIFETIME": "soon"}, "token_lifetime"),
    ],
    ids=[
        "weak-password",
        "no-password-stdin",
        "passwd-unknown",
        "delete-unknown",
        "org-owner-unknown",
        "bad-database-url",
        "bad-setting",
    ],
)
def test_mistakes_are_one_line_on_stderr(
    closed_hub: Hub, args: list[str], stdin: str | None, env: dict[str, str] | None, message: str
) -> None:
    result = admin(closed_hub, *args, stdin=stdin, env=env)
    assert_one_error_line(result, message)


def assert_one_error_line(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 1 and result.stdout == "", result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], result.stderr


def test_key_rotation_keeps_old_tokens_valid(closed_hub: Hub, tmp_path: Path) -> None:
    api = Api(closed_hub.url)
    name = unique_name()
    ok(create_user(closed_hub, name, "R0tate-password"))
    creds = (name, "R0tate-password")

    def token() -> str:
        reply = api.token(f"repository:{name}/app:pull", auth=creds)
        assert reply.status == 200, reply
        value: str = reply.json()["token"]
        return value

    def accepted(value: str) -> bool:
        # several requests, so that every worker process is asked
        return all(api.call("GET", "/v2/", headers=bearer(value)).status == 200 for _ in range(4))

    old = token()
    old_kid = jwt_header(old)["kid"]
    assert accepted(old)

    rotated = ok(admin(closed_hub, "keys", "rotate"))
    match = re.fullmatch(
        r"New signing key (\S+) \(\S+\.pem\): a running hub signs with it from now on; (\d+) older key\(s\) still verify",
        rotated,
    )
    assert match is not None, rotated
    new_kid = match[1]
    assert new_kid != old_kid and int(match[2]) >= 1

    # the running hub still accepts what it issued, and keeps issuing valid tokens
    assert accepted(old)
    assert accepted(token())
    # a token signed with the new key (as another replica would issue it) verifies at once
    ring = KeyRing(closed_hub.data_dir / "keys").load(create=False)
    assert ring.signing.kid == new_kid
    issuer = TokenIssuer(ring, issuer="cargobay", service="cargobay")
    fresh, _, _ = issuer.issue(name, [])
    assert accepted(fresh)

    # the running hub now signs with the new key; after a restart too; old tokens still verify
    assert jwt_header(token())["kid"] == new_kid
    closed_hub.restart()
    after = token()
    assert jwt_header(after)["kid"] == new_kid
    assert accepted(after) and accepted(old)
    assert api.call("GET", "/v2/", headers=bearer(old[:-4] + "AAAA")).status == 401


@pytest.mark.postgres
def test_admin_against_postgresql_while_the_hub_runs(
    start_hub: Callable[..., Hub], new_postgres_url: Callable[[], str]
) -> None:
    url = new_postgres_url()
    hub = start_hub(workers=1, database_url=url, env={"CARGOBAY_AUTH": "token"})
    name = unique_name()
    created = create_user(hub, name, "Pg-password1\n", "--database-url", url)
    assert ok(created) == f"Created user {name}"
    api = Api(hub.url)
    assert api.call("GET", "/api/user", auth=(name, "Pg-password1")).json()["username"] == name
    org = unique_name("org")
    ok(admin(hub, "org", "create", "--name", org, "--owner", name, "--database-url", url))
    members = api.call("GET", f"/api/orgs/{org}/members", auth=(name, "Pg-password1")).json()
    assert members["results"] == [{"username": name, "role": "owner"}]
