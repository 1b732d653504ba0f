"""`cargobay rmi`, `tag` and `image prune`: docker's output lines, conflicts and exit codes."""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

sys.path.insert(0, str(Path(__file__).parent))
from store_fixtures import NOW, BuiltImage, output_scene

from cargobay.cli import render
from cargobay.cli.main import cli
from cargobay.localstore import LocalStore


@pytest.fixture
def scene(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, BuiltImage]]:
    root = tmp_path / "store"
    monkeypatch.setenv("CARGOBAY_HOME", str(root))
    monkeypatch.setenv("CARGOBAY_NOW", str(NOW))
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield output_scene(LocalStore(root))
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def store(scene: dict[str, BuiltImage]) -> LocalStore:
    return LocalStore.open_default()


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def chain_ids(image: BuiltImage) -> list[str]:
    out: list[str] = []
    for layer in image.layers:
        out.append(
            layer.diff_id
            if not out
            else "sha256:" + hashlib.sha256(f"{out[-1]} {layer.diff_id}".encode()).hexdigest()
        )
    return out


def tags(store: LocalStore) -> list[str]:
    return [t for r in store.images() for t in r.repo_tags]


# ------------------------------------------------------------------------------------ rmi


def test_rmi_one_of_two_tags_only_untags(scene: dict[str, BuiltImage], store: LocalStore) -> None:
    result = run("rmi", "debian:bookworm")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "Untagged: debian:bookworm\n", "")
    assert store.resolve("debian").id == scene["debian"].config_digest


def test_rmi_last_tag_deletes_image_digest_refs_and_layers(
    scene: dict[str, BuiltImage], store: LocalStore
) -> None:
    ubuntu = scene["ubuntu"]
    result = run("rmi", "ubuntu")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "Untagged: ubuntu:latest",
        f"Untagged: ubuntu@{ubuntu.manifest.digest}",
        f"Deleted: {ubuntu.config_digest}",
        f"Deleted: {chain_ids(ubuntu)[0]}",
    ]
    assert not store.has_blob(ubuntu.layers[0].digest)


def test_rmi_by_id_with_several_tags_needs_force(scene: dict[str, BuiltImage], store: LocalStore) -> None:
    debian = scene["debian"]
    short = debian.config_digest.encoded[:12]
    result = run("rmi", short)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: conflict: unable to delete {short} (must be forced) - image is referenced in multiple repositories\n"
    )
    result = run("rmi", "-f", short)
    assert result.exit_code == 0
    top, bottom = chain_ids(debian)[1], chain_ids(debian)[0]
    assert result.stdout.splitlines() == [
        "Untagged: debian:bookworm",
        "Untagged: debian:latest",
        f"Deleted: {debian.config_digest}",
        f"Deleted: {top}",
        f"Deleted: {bottom}",
    ]
    assert "debian:latest" not in tags(store)


def test_rmi_by_id_single_reference(scene: dict[str, BuiltImage]) -> None:
    app = scene["app"]
    result = run("rmi", str(app.config_digest))
    assert result.stdout.splitlines()[:3] == [
        "Untagged: 127.0.0.1:5000/team/app:v1",
        f"Untagged: 127.0.0.1:5000/team/app@{app.manifest.digest}",
        f"Deleted: {app.config_digest}",
    ]


def test_rmi_digest_reference_and_dangling(scene: dict[str, BuiltImage], store: LocalStore) -> None:
    tool = scene["tool"]
    result = run("rmi", f"bob/tool@{tool.manifest.digest}")
    assert result.stdout.splitlines()[:2] == [
        f"Untagged: bob/tool@{tool.manifest.digest}",
        f"Deleted: {tool.config_digest}",
    ]
    old = scene["old"]
    result = run("image", "rm", old.config_digest.encoded[:6])
    assert result.stdout == f"Deleted: {old.config_digest}\n"  # no layers, no references
    assert {r.id for r in store.images()} == {scene[k].config_digest for k in ("ubuntu", "debian", "app")}


def test_rmi_missing(scene: dict[str, BuiltImage]) -> None:
    result = run("rmi", "nope")
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", "Error: No such image: nope:latest\n")
    result = run("rmi", "-f", "nope")  # with -f a missing image is only reported
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "Error: No such image: nope:latest\n")
    result = run("image", "remove", "nope", "debian:bookworm", "other:1")
    assert result.exit_code == 1
    assert result.stdout == "Untagged: debian:bookworm\n"
    assert result.stderr == "Error: No such image: nope:latest\nError: No such image: other:1\n"


def test_rmi_needs_an_argument(scene: dict[str, BuiltImage]) -> None:
    assert run("rmi").exit_code == 2


# ------------------------------------------------------------------------------------ tag


def test_tag(scene: dict[str, BuiltImage], store: LocalStore) -> None:
    result = run("tag", "ubuntu", "127.0.0.1:5000/me/ubuntu:22.04")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")
    assert store.resolve("127.0.0.1:5000/me/ubuntu:22.04").id == scene["ubuntu"].config_digest
    assert run("image", "tag", scene["app"].config_digest.encoded[:12], "myapp").exit_code == 0
    assert store.resolve("myapp:latest").id == scene["app"].config_digest


def test_tag_overwrites_silently(scene: dict[str, BuiltImage], store: LocalStore) -> None:
    assert run("tag", "127.0.0.1:5000/team/app:v1", "ubuntu:latest").stdout == ""
    assert store.resolve("ubuntu").id == scene["app"].config_digest
    # The old ubuntu image keeps its digest reference: listed as `ubuntu <none>`.
    old = store.resolve(scene["ubuntu"].id)
    assert old.repo_tags == [] and old.repo_digests == [f"ubuntu@{scene['ubuntu'].manifest.digest}"]


def test_tag_errors(scene: dict[str, BuiltImage]) -> None:
    result = run("tag", "ubuntu", "Foo")
    assert result.exit_code == 1
    assert result.stderr == (
        'Error: error parsing reference: "Foo" is not a valid repository/tag: '
        "invalid reference format: repository name (library/Foo) must be lowercase\n"
    )
    result = run("tag", "ubuntu", "a b")
    assert (
        result.stderr
        == 'Error: error parsing reference: "a b" is not a valid repository/tag: invalid reference format\n'
    )
    result = run("tag", "ubuntu", f"x@{scene['ubuntu'].manifest.digest}")
    assert result.stderr == "Error: refusing to create a tag with a digest reference\n"
    result = run("tag", "nope", "x:1")
    assert (result.exit_code, result.stderr) == (1, "Error: No such image: nope:latest\n")


# ---------------------------------------------------------------------------------- prune


def blob_sizes(store: LocalStore, image: BuiltImage) -> int:
    digests = [image.manifest.digest, image.config_digest, *(layer.digest for layer in image.layers)]
    return sum(store.blobs.stat(d) or 0 for d in digests)


def test_prune_dangling(scene: dict[str, BuiltImage], store: LocalStore) -> None:
    tool, old = scene["tool"], scene["old"]
    reclaimed = blob_sizes(store, tool) + blob_sizes(store, old)
    result = run("image", "prune", "-f")
    assert result.exit_code == 0
    assert result.stdout.split("\n") == [
        "Deleted Images:",
        f"untagged: bob/tool@{tool.manifest.digest}",
        f"deleted: {tool.config_digest}",
        f"deleted: {tool.layers[0].diff_id}",
        f"deleted: {old.config_digest}",
        "",
        f"Total reclaimed space: {render.human_size(reclaimed)}",
        "",
    ]
    assert reclaimed > 1000 and render.human_size(reclaimed).endswith("kB")
    # Nothing left to prune.
    result = run("image", "prune", "-f")
    assert result.stdout == "Total reclaimed space: 0B\n"


def test_prune_prompt(scene: dict[str, BuiltImage], store: LocalStore) -> None:
    before = len(store.images())
    result = run("image", "prune", input="n\n")
    assert result.exit_code == 0
    assert (
        result.stdout
        == "WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] "
    )
    assert len(store.images()) == before
    result = run("image", "prune", input="y\n")
    assert result.stdout.startswith(
        "WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] Deleted Images:\n"
    )
    assert len(store.images()) == before - 2
    result = run("image", "prune", "-a", input="\n")
    assert result.stdout.startswith(
        "WARNING! This will remove all images without at least one container associated to them.\n"
    )
    assert len(store.images()) == before - 2


def test_prune_all_with_filters(scene: dict[str, BuiltImage], store: LocalStore) -> None:
    result = run("image", "prune", "-a", "-f", "--filter", "until=2024-01-25T00:00:00Z")
    assert result.exit_code == 0
    assert "untagged: debian:bookworm" in result.stdout.splitlines()
    assert "untagged: debian:latest" in result.stdout.splitlines()
    assert sorted(tags(store)) == ["127.0.0.1:5000/team/app:v1", "ubuntu:latest"]
    result = run("image", "prune", "-a", "-f", "--filter", "label!=tier")
    assert sorted(tags(store)) == ["127.0.0.1:5000/team/app:v1"]
    run("image", "prune", "-a", "-f", "--filter", "label=tier=web")
    assert store.images() == []
    assert list(store.blobs.iter_digests()) == []


def test_prune_invalid_filter(scene: dict[str, BuiltImage]) -> None:
    result = run("image", "prune", "-f", "--filter", "reference=x")
    assert (result.exit_code, result.stderr) == (1, "Error: invalid filter 'reference'\n")


def test_prune_also_collects_old_unreferenced_blobs(scene: dict[str, BuiltImage], store: LocalStore) -> None:
    import os

    run("image", "prune", "-f")
    stray = store.put_blob(b"x" * 2000)  # e.g. left behind by an interrupted pull
    fresh = store.put_blob(b"y" * 3000)  # a pull in progress may still reference this one
    old = time.time() - 2 * 3600
    os.utime(store.blobs.path(stray), (old, old))
    result = run("image", "prune", "-f")
    assert result.stdout == "Total reclaimed space: 2kB\n"
    assert not store.has_blob(stray)
    assert store.has_blob(fresh)
