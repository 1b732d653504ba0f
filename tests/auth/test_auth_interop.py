"""podman and skopeo log in to a hub with token auth, push into their namespace and pull back;
outsiders are refused the way those tools expect."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from authhub import PASSWORD, add_user, set_private

from support.images import OciImage
from support.servers import Hub, start_hub
from support.tools import Podman, Skopeo

pytestmark = pytest.mark.interop


def _message(stderr: str) -> str:
    """skopeo's error without its timestamp."""
    return re.sub(r'time="[^"]*" ', "", stderr)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    handle = start_hub(tmp_path_factory.mktemp("auth-interop"), env={"CARGOBAY_AUTH": "token"})
    add_user(handle, "alice")
    add_user(handle, "bobby")
    yield handle
    handle.close()


def test_podman_login_push_pull_logout(
    hub: Hub, make_podman: Callable[[], Podman], make_oci_image: Callable[..., OciImage], tmp_path: Path
) -> None:
    image = make_oci_image(tmp_path, layers=2)
    podman = make_podman()
    podman("pull", image.oci_ref)
    target = f"{hub.url}/alice/podman:v1"
    podman("tag", image.config_digest.split(":", 1)[1], target)
    # Without logging in, the push is refused.
    refused = podman("push", "--tls-verify=false", target, check=False)
    assert refused.returncode != 0
    assert "authentication required" in refused.stderr or "unauthorized" in refused.stderr
    wrong = podman(
        "login", "--tls-verify=false", "-u", "alice", "-p", "wrong-password1", hub.url, check=False
    )
    assert wrong.returncode != 0 and "invalid username/password" in wrong.stderr
    ok = podman(
        "login", "--tls-verify=false", "-u", "alice", "--password-stdin", hub.url, input=PASSWORD + "\n"
    )
    assert "Login Succeeded" in ok.stdout
    podman("push", "--tls-verify=false", target)
    fresh = make_podman()
    fresh("pull", "--tls-verify=false", target)  # public: anonymous pull works
    assert fresh.image_id(target) == image.config_digest.split(":", 1)[1]
    # Pushing into someone else's namespace is denied.
    other = f"{hub.url}/bobby/podman:v1"
    podman("tag", target, other)
    denied = podman("push", "--tls-verify=false", other, check=False)
    assert denied.returncode != 0 and "denied" in denied.stderr
    podman("logout", hub.url)


def test_skopeo_with_creds_and_private_repositories(
    hub: Hub, skopeo: Skopeo, make_oci_image: Callable[..., OciImage], tmp_path: Path
) -> None:
    image = make_oci_image(tmp_path, layers=1)
    dest = f"docker://{hub.url}/alice/private:v1"
    skopeo("copy", "--dest-tls-verify=false", "--dest-creds", f"alice:{PASSWORD}", image.oci_ref, dest)
    set_private(hub, "alice/private")
    owner = skopeo("inspect", "--raw", "--tls-verify=false", "--creds", f"alice:{PASSWORD}", dest)
    assert owner.stdout.encode() == image.raw
    for creds in ([], ["--creds", f"bobby:{PASSWORD}"]):
        hidden = skopeo("inspect", "--raw", "--tls-verify=false", *creds, dest, check=False)
        missing = skopeo(
            "inspect",
            "--raw",
            "--tls-verify=false",
            *creds,
            f"docker://{hub.url}/alice/nothing:v1",
            check=False,
        )
        assert hidden.returncode != 0 and missing.returncode != 0
        assert _message(hidden.stderr).replace("alice/private", "X") == _message(missing.stderr).replace(
            "alice/nothing", "X"
        )
    tags = skopeo(
        "list-tags", "--tls-verify=false", "--creds", f"alice:{PASSWORD}", f"docker://{hub.url}/alice/private"
    )
    assert '"v1"' in tags.stdout
