"""The hub as a process: images pushed with skopeo survive a restart and a SIGKILL, and the
PostgreSQL-backed hub (one or two hub processes on one database and data dir) serves them too."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from support.checks import assert_registry_has, list_tags, push_concurrently
from support.images import OciImage
from support.servers import Hub
from support.tools import Skopeo

pytestmark = pytest.mark.interop

MakeImage = Callable[..., OciImage]
StartHub = Callable[..., Hub]
PLATFORMS = ["linux/amd64", "linux/arm64"]


def push(skopeo: Skopeo, image: OciImage, registry: str, name: str) -> None:
    skopeo("copy", "--all", "--dest-tls-verify=false", image.ref, f"docker://{registry}/{name}")


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_images_survive_restart(
    start_hub: StartHub, skopeo: Skopeo, make_oci_image: MakeImage, tmp_path: Path, how: str
) -> None:
    hub = start_hub()
    single = make_oci_image(tmp_path, layers=2)
    multi = make_oci_image(tmp_path, layers=1, platforms=PLATFORMS, media="docker")
    push(skopeo, single, hub.url, "lib/app:1.0")
    push(skopeo, multi, hub.url, "lib/app:multi")

    if how == "kill":
        hub.kill()
        assert hub.process is not None and hub.process.returncode == -9
    else:
        assert hub.stop() is not None
    assert not hub.running
    hub.restart()

    assert sorted(list_tags(skopeo, hub.url, "lib/app")) == ["1.0", "multi"]
    assert_registry_has(skopeo, hub.url, "lib/app", "1.0", single)
    assert_registry_has(skopeo, hub.url, "lib/app", "multi", multi)


@pytest.mark.postgres
def test_postgres_backed_hub(
    start_hub: StartHub,
    new_postgres_url: Callable[[], str],
    skopeo: Skopeo,
    make_oci_image: MakeImage,
    tmp_path: Path,
) -> None:
    hub = start_hub(database_url=new_postgres_url(), workers=2)
    image = make_oci_image(tmp_path, layers=2, platforms=PLATFORMS)
    push(skopeo, image, hub.url, "pg/app:1.0")
    assert_registry_has(skopeo, hub.url, "pg/app", "1.0", image)

    hub.restart()

    assert_registry_has(skopeo, hub.url, "pg/app", "1.0", image)


@pytest.mark.postgres
def test_two_hubs_share_database_and_storage(
    start_hub: StartHub,
    new_postgres_url: Callable[[], str],
    skopeo: Skopeo,
    make_oci_image: MakeImage,
    tmp_path: Path,
) -> None:
    database = new_postgres_url()
    shared = tmp_path / "shared-data"
    first = start_hub(database_url=database, data_dir=shared, workers=1)
    second = start_hub(database_url=database, data_dir=shared, workers=1)
    image = make_oci_image(tmp_path, layers=2, platforms=PLATFORMS)

    push(skopeo, image, first.url, "scale/app:1.0")
    assert_registry_has(skopeo, second.url, "scale/app", "1.0", image)

    other = make_oci_image(tmp_path, layers=1)
    push(skopeo, other, second.url, "scale/app:2.0")
    assert sorted(list_tags(skopeo, first.url, "scale/app")) == ["1.0", "2.0"]
    assert_registry_has(skopeo, first.url, "scale/app", "2.0", other)


@pytest.mark.postgres
def test_concurrent_pushes_on_postgres(
    start_hub: StartHub,
    new_postgres_url: Callable[[], str],
    skopeo: Skopeo,
    make_oci_image: MakeImage,
    tmp_path: Path,
) -> None:
    # several skopeo processes push one image (same blobs, same manifests) into one repository
    # at once, through two hub workers on one PostgreSQL database: every push must succeed
    hub = start_hub(database_url=new_postgres_url(), workers=2)
    for round_ in range(2):
        image = make_oci_image(tmp_path, layers=2, layer_size=50_000, platforms=PLATFORMS)
        targets = [f"race/app{round_}:tag{i}" for i in range(6)]
        push_concurrently(skopeo, image, hub.url, targets)
        for target in targets:
            repository, tag = target.split(":")
            assert_registry_has(skopeo, hub.url, repository, tag, image)
