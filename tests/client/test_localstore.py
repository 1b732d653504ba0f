"""The local image store: layout, references, resolution, removal, gc, locking, and interop."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import contextlib

from store_fixtures import make_layer, populate, remove_blobs, write_image, write_index

from cargobay.localstore import Conflict, ImageNotFound, LocalStore, MissingBlobs, StoreError
from cargobay.localstore.store import ANNOTATION_ID, ANNOTATION_MANIFEST, REF_NAME, default_root
from cargobay.oci.digest import Digest


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "store")


def index_doc(store: LocalStore) -> dict:  # type: ignore[type-arg]
    return json.loads((store.root / "index.json").read_bytes())


def ref_names(store: LocalStore) -> list[str]:
    return [m.get("annotations", {}).get(REF_NAME) for m in index_doc(store)["manifests"]]


def blob_count(store: LocalStore) -> int:
    return len(list(store.blobs.iter_digests()))


# ------------------------------------------------------------------------------- layout


def test_new_store_is_an_oci_layout(store: LocalStore) -> None:
    assert json.loads((store.root / "oci-layout").read_bytes()) == {"imageLayoutVersion": "1.0.0"}
    doc = index_doc(store)
    assert doc["schemaVersion"] == 2
    assert doc["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert doc["manifests"] == []
    # The first key carries a generation token that the listing cache checks.
    assert list(doc) == ["schemaVersion", "mediaType", "annotations", "manifests"]
    assert list(doc["annotations"]) == ["io.cargobay.generation"]
    assert (store.root / "blobs" / "sha256").is_dir()
    assert store.images() == []


def test_default_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CARGOBAY_HOME", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_root() == tmp_path / "xdg" / "cargobay"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_root() == tmp_path / "home" / ".local" / "share" / "cargobay"
    monkeypatch.setenv("CARGOBAY_HOME", str(tmp_path / "cb"))
    assert default_root() == tmp_path / "cb"
    assert LocalStore.open_default().root == tmp_path / "cb"


def test_add_reference_records_full_reference_and_repo_digest(store: LocalStore) -> None:
    image = write_image(store, created="2024-01-01T00:00:00Z")
    record = store.add_reference("busybox", image.manifest)
    assert ref_names(store) == [
        "docker.io/library/busybox:latest",
        f"docker.io/library/busybox@{image.manifest.digest}",
    ]
    assert record.id == image.config_digest
    assert record.repo_tags == ["busybox:latest"]
    assert record.repo_digests == [f"busybox@{image.manifest.digest}"]
    assert record.manifest.digest == image.manifest.digest
    assert record.index is None
    assert record.created == "2024-01-01T00:00:00Z"
    assert record.size == len(image.layers[0].blob)
    assert str(record.platform) == "linux/amd64"
    entry = index_doc(store)["manifests"][0]
    assert entry["mediaType"] == image.manifest.media_type
    assert entry["digest"] == str(image.manifest.digest)
    assert entry["size"] == image.manifest.size
    assert entry["annotations"][ANNOTATION_ID] == str(image.config_digest)


def test_digest_only_reference(store: LocalStore) -> None:
    image = write_image(store)
    ref = f"127.0.0.1:5000/a/b@{image.manifest.digest}"
    store.add_reference(ref, image.manifest)
    assert ref_names(store) == [ref]
    record = store.resolve(ref)
    assert record.repo_tags == []
    assert record.repo_digests == [ref]
    with pytest.raises(StoreError, match="does not match"):
        store.add_reference(f"a@sha256:{'0' * 64}", image.manifest)


def test_blobs_are_kept_verbatim(store: LocalStore) -> None:
    image = write_image(store)
    store.add_reference("x:1", image.manifest)
    raw = store.read_blob(image.manifest.digest)
    assert raw.startswith(b'{\n   "schemaVersion"')  # 3-space indentation, as written
    assert Digest("sha256", __import__("hashlib").sha256(raw).hexdigest()) == image.manifest.digest


def test_missing_blobs_are_refused(store: LocalStore) -> None:
    image = write_image(store)
    store.blobs.delete(image.layers[0].digest)
    with pytest.raises(MissingBlobs) as err:
        store.add_reference("x:1", image.manifest)
    assert err.value.digests == [image.layers[0].digest]
    assert ref_names(store) == []


def test_multi_arch_index_entry(store: LocalStore) -> None:
    amd = write_image(store, arch="amd64", layers=[make_layer()])
    arm = write_image(store, arch="arm64", variant="v8", layers=[make_layer()])
    index = write_index(store, [amd, arm])
    remove_blobs(store, amd)  # only arm64 was pulled
    record = store.add_reference("multi:1", index)
    assert record.id == arm.config_digest
    assert record.index is not None and record.index.digest == index.digest
    assert record.manifest.digest == arm.manifest.digest
    assert str(record.platform) == "linux/arm64/v8"
    entry = index_doc(store)["manifests"][0]
    assert entry["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert entry["digest"] == str(index.digest)
    assert entry["annotations"][ANNOTATION_MANIFEST] == str(arm.manifest.digest)
    # The repo digest is the index digest (what the registry tag pointed to), as docker records it.
    assert record.repo_digests == [f"multi@{index.digest}"]
    assert store.resolve(f"multi@{index.digest}").id == arm.config_digest


def test_multi_arch_explicit_platform_manifest(store: LocalStore) -> None:
    amd = write_image(store, arch="amd64")
    arm = write_image(store, arch="arm64")
    index = write_index(store, [amd, arm])
    assert store.add_reference("m:1", index, platform_manifest=arm.manifest.digest).id == arm.config_digest
    assert store.add_reference("m:2", index, platform_manifest=amd.manifest.digest).id == amd.config_digest


# ----------------------------------------------------------------------------- resolve


def test_resolve_forms(store: LocalStore) -> None:
    built = populate(store)
    busybox = built["busybox"]
    image_id = busybox.config_digest
    for text in (
        "busybox",
        "busybox:latest",
        "docker.io/library/busybox:1.36",
        "index.docker.io/library/busybox",
        f"busybox@{busybox.manifest.digest}",
        str(image_id),
        image_id.encoded,
        image_id.encoded[:12],
        "sha256:" + image_id.encoded[:8],
    ):
        assert store.resolve(text).id == image_id, text
    record = store.resolve("busybox")
    assert record.repo_tags == ["busybox:1.36", "busybox:latest"]
    assert store.resolve("127.0.0.1:5000/team/app:v1").labels == {"maintainer": "team", "tier": "web"}


def test_resolve_errors_use_docker_words(store: LocalStore) -> None:
    populate(store)
    with pytest.raises(ImageNotFound, match=r"^No such image: foo:latest$"):
        store.resolve("foo")
    with pytest.raises(ImageNotFound, match=r"^No such image: bob/tool:nope$"):
        store.resolve("docker.io/bob/tool:nope")
    with pytest.raises(ImageNotFound, match=r"^No such image: sha256:0{64}$"):
        store.resolve("0" * 64)
    with pytest.raises(StoreError, match=r"repository name \(library/Foo\) must be lowercase"):
        store.resolve("Foo")


def test_ambiguous_id_prefix_is_not_found(store: LocalStore) -> None:
    images = [write_image(store, created=f"2024-01-0{i}T00:00:00Z") for i in range(1, 10)]
    for i, image in enumerate(images):
        store.add_reference(f"img{i}:latest", image.manifest)
    first_chars = [img.config_digest.encoded[0] for img in images]
    shared = next((c for c in first_chars if first_chars.count(c) > 1), None)
    if shared is not None:
        with pytest.raises(ImageNotFound):
            store.resolve(shared)


def test_images_newest_first(store: LocalStore) -> None:
    populate(store)
    created = [r.created for r in store.images()]
    assert created == sorted(created, reverse=True)
    assert len(created) == 5


# ------------------------------------------------------------------------- tag and move


def test_tag_and_retag_leaves_dangling_image(store: LocalStore) -> None:
    old = write_image(store, created="2023-01-01T00:00:00Z")
    new = write_image(store, created="2024-01-01T00:00:00Z")
    store.add_reference("app:latest", old.manifest, digest_reference=False)
    store.add_reference("app:latest", new.manifest, digest_reference=False)
    records = {r.id: r for r in store.images()}
    assert records[new.config_digest].repo_tags == ["app:latest"]
    assert records[old.config_digest].is_dangling
    # The dangling image keeps an unnamed entry, so its blobs stay rooted.
    assert ref_names(store).count(None) == 1
    store.tag(str(old.config_digest), "app:old")
    assert ref_names(store).count(None) == 0
    assert store.resolve("app:old").id == old.config_digest


def test_tag_refuses_digest_target(store: LocalStore) -> None:
    image = write_image(store)
    store.add_reference("a:1", image.manifest)
    with pytest.raises(StoreError, match="refusing to create a tag with a digest reference"):
        store.tag("a:1", f"b@{image.manifest.digest}")
    with pytest.raises(ImageNotFound, match="No such image: nope:latest"):
        store.tag("nope", "b:1")


def test_tag_of_multi_arch_keeps_index(store: LocalStore) -> None:
    amd = write_image(store, arch="amd64")
    arm = write_image(store, arch="arm64")
    index = write_index(store, [amd, arm])
    store.add_reference("m:1", index, platform_manifest=arm.manifest.digest)
    record = store.tag("m:1", "copy:1")
    assert record.index is not None and record.index.digest == index.digest
    assert store.resolve("copy:1").manifest.digest == arm.manifest.digest


# ---------------------------------------------------------------------------- removal


def test_remove_by_tag_only_untags_while_other_tags_remain(store: LocalStore) -> None:
    built = populate(store)
    blobs = blob_count(store)
    result = store.remove("busybox:1.36")
    assert [(e.kind, e.value) for e in result.events] == [("Untagged", "busybox:1.36")]
    assert blob_count(store) == blobs
    assert store.resolve("busybox").id == built["busybox"].config_digest


def test_remove_last_tag_deletes_image_and_digest_refs(store: LocalStore) -> None:
    built = populate(store)
    store.remove("busybox:1.36")
    busybox = built["busybox"]
    result = store.remove("busybox")
    assert [(e.kind, e.value) for e in result.events] == [
        ("Untagged", "busybox:latest"),
        ("Untagged", f"busybox@{busybox.manifest.digest}"),
        ("Deleted", str(busybox.config_digest)),
        # the base layer is shared with team/app, so no layer chain is deleted
    ]
    # The shared base layer stays, the manifest and config go.
    assert store.has_blob(busybox.layers[0].digest)
    assert not store.has_blob(busybox.manifest.digest)
    assert not store.has_blob(busybox.config_digest)
    assert result.reclaimed == busybox.manifest.size + len(json.dumps(busybox.config, indent=2))


def test_remove_by_id_with_several_repositories_needs_force(store: LocalStore) -> None:
    built = populate(store)
    image_id = built["busybox"].config_digest
    store.tag("busybox", "other/repo:1")
    with pytest.raises(Conflict) as err:
        store.remove(image_id.encoded[:12])
    assert str(err.value) == (
        f"conflict: unable to delete {image_id.encoded[:12]} (must be forced) - "
        "image is referenced in multiple repositories"
    )
    result = store.remove(image_id.encoded[:12], force=True)
    assert [e.kind for e in result.events] == ["Untagged"] * 4 + ["Deleted"]
    assert [e.value for e in result.events][:4] == [
        "busybox:1.36",
        "busybox:latest",
        f"busybox@{built['busybox'].manifest.digest}",
        "other/repo:1",
    ]


def test_remove_by_id_single_repository_untags_without_force(store: LocalStore) -> None:
    built = populate(store)
    store.remove("busybox:1.36")
    image_id = built["busybox"].config_digest
    events = store.remove(str(image_id)).events
    assert [e.kind for e in events] == ["Untagged", "Untagged", "Deleted"]


def test_remove_unique_layers_prints_chain_ids(store: LocalStore) -> None:
    layers = [make_layer(), make_layer()]
    image = write_image(store, layers=layers)
    store.add_reference("solo:1", image.manifest, digest_reference=False)
    events = store.remove("solo:1").events
    chain0 = layers[0].diff_id
    chain1 = "sha256:" + __import__("hashlib").sha256(f"{chain0} {layers[1].diff_id}".encode()).hexdigest()
    assert [(e.kind, e.value) for e in events] == [
        ("Untagged", "solo:1"),
        ("Deleted", str(image.config_digest)),
        ("Deleted", chain1),
        ("Deleted", chain0),
    ]
    assert blob_count(store) == 0


def test_remove_multi_arch_deletes_index_too(store: LocalStore) -> None:
    amd = write_image(store, arch="amd64")
    arm = write_image(store, arch="arm64")
    index = write_index(store, [amd, arm])
    remove_blobs(store, arm)
    store.add_reference("m:1", index)
    store.remove("m:1")
    assert blob_count(store) == 0
    assert index_doc(store)["manifests"] == []


def test_prune_dangling_and_all(store: LocalStore) -> None:
    built = populate(store)
    result = store.prune()
    assert next((e.kind, e.value) for e in result.events) == ("Deleted", str(built["dangling"].config_digest))
    assert result.reclaimed > 0
    assert all(not r.is_dangling for r in store.images())
    result = store.prune(all_images=True)
    assert store.images() == []
    assert blob_count(store) == 0
    assert "untagged" not in {e.kind for e in result.events}


def test_prune_exclude(store: LocalStore) -> None:
    populate(store)
    store.prune(all_images=True, exclude=lambda r: r.labels.get("tier") == "web")
    assert [r.repo_tags for r in store.images()] == [["127.0.0.1:5000/team/app:v1"]]


def test_gc_keeps_referenced_and_recent_blobs(store: LocalStore) -> None:
    populate(store)
    stray = store.put_blob(b"stray")
    before = blob_count(store)
    assert store.gc().events == []  # recent: maybe a pull in progress
    os.utime(store.blobs.path(stray), (time.time() - 7200, time.time() - 7200))
    result = store.gc()
    assert [e.value for e in result.events] == [str(stray)]
    assert blob_count(store) == before - 1
    assert store.gc(grace=0).events == []
    for record in store.images():
        assert store.has_blob(record.manifest.digest)
        assert store.has_blob(record.id)


# ------------------------------------------------------------------------ other writers


def test_foreign_entries_are_read_and_preserved(store: LocalStore) -> None:
    image = write_image(store)
    doc = index_doc(store)
    doc["manifests"].append(
        {
            "mediaType": image.manifest.media_type,
            "digest": str(image.manifest.digest),
            "size": image.manifest.size,
            "annotations": {REF_NAME: "docker.io/library/foreign:1", "com.example.note": "kept"},
        }
    )
    doc["manifests"].append(
        {
            "mediaType": image.manifest.media_type,
            "digest": str(image.manifest.digest),
            "size": image.manifest.size,
            "annotations": {REF_NAME: "v1.0+weird"},
        }
    )
    (store.root / "index.json").write_text(json.dumps(doc))
    assert store.resolve("foreign:1").id == image.config_digest
    store.tag("foreign:1", "mine:1")
    entries = index_doc(store)["manifests"]
    assert entries[0]["annotations"]["com.example.note"] == "kept"
    assert entries[1]["annotations"][REF_NAME] == "v1.0+weird"
    assert ref_names(store)[-1] == "docker.io/library/mine:1"


def test_listing_checks_the_generation_token(store: LocalStore) -> None:
    image = write_image(store)
    store.add_reference("x:1", image.manifest, digest_reference=False)
    assert store._read_listing() is not None
    listing = json.loads((store.root / "listing.json").read_bytes())
    ino, size, mtime, generation = listing["index"]
    assert generation == index_doc(store)["annotations"]["io.cargobay.generation"]
    # Same inode, size and mtime but another generation (a coarse clock, a reused inode): rejected.
    listing["index"] = [ino, size, mtime, "0" * 32]
    (store.root / "listing.json").write_text(json.dumps(listing))
    assert store._read_listing() is None
    assert [r.repo_tags for r in store.images()] == [["x:1"]]


def test_listing_is_ignored_when_index_changes_behind_our_back(store: LocalStore) -> None:
    image = write_image(store)
    store.add_reference("a:1", image.manifest, digest_reference=False)
    assert [r.repo_tags for r in store.images()] == [["a:1"]]
    doc = index_doc(store)
    doc["manifests"][0]["annotations"][REF_NAME] = "docker.io/library/b:2"
    time.sleep(0.01)
    (store.root / "index.json").write_text(json.dumps(doc))
    assert store._read_listing() is None
    assert [r.repo_tags for r in store.images()] == [["b:2"]]
    # The listing was rebuilt from the new index by that read.
    listed = store._read_listing()
    assert listed is not None and [r.repo_tags for r in listed] == [["b:2"]]


# -------------------------------------------------------------------------- concurrency


def _worker(root: str, worker: int, manifests: list[tuple[str, str, int]], rounds: int) -> None:
    from cargobay.oci.manifest import Descriptor

    store = LocalStore(root)
    for i in range(rounds):
        media_type, digest, size = manifests[(worker + i) % len(manifests)]
        name = f"w{worker}/img:{i % 3}"
        store.add_reference(name, Descriptor(media_type, Digest.parse(digest), size))
        store.tag(name, f"shared:{i % 4}")
        if i % 2:
            with contextlib.suppress(ImageNotFound):
                store.remove(f"shared:{(i + worker) % 4}")
        store.images()


def test_concurrent_processes_leave_a_valid_index(store: LocalStore) -> None:
    base = make_layer(1000)
    images = [
        write_image(store, layers=[base, make_layer()], created=f"2024-01-0{i + 1}T00:00:00Z")
        for i in range(4)
    ]
    # Root every image so that removals in the workers never delete the blobs others re-tag.
    for n, image in enumerate(images):
        store.add_reference(f"keep:{n}", image.manifest)
    manifests = [(i.manifest.media_type, str(i.manifest.digest), i.manifest.size) for i in images]
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_worker, args=(str(store.root), w, manifests, 12)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    doc = index_doc(store)  # parses: never torn
    names = [m["annotations"].get(REF_NAME) for m in doc["manifests"]]
    named = [n for n in names if n]
    assert len(named) == len(set(named))
    for w in range(4):
        for t in range(3):
            assert f"docker.io/w{w}/img:{t}" in named
    for m in doc["manifests"]:
        assert store.has_blob(Digest.parse(m["digest"]))
    assert not list(store.root.glob(".index.json.*.tmp"))
    # The listing agrees with a full read of index.json.
    fast = {(r.id, r.references) for r in store.images()}
    slow = {(r.id, r.references) for r in store._records(store._entries()).values()}
    assert fast == slow


def _first_use_worker(root: str, worker: int, manifest: tuple[str, str, int]) -> None:
    from cargobay.oci.manifest import Descriptor

    LocalStore(root).add_reference(
        f"first/use:{worker}", Descriptor(manifest[0], Digest.parse(manifest[1]), manifest[2])
    )


def test_concurrent_first_use_loses_no_reference(tmp_path: Path) -> None:
    # Blobs are written into the directory before any LocalStore has created index.json.
    seed = LocalStore(tmp_path / "seed")
    image = write_image(seed)
    root = tmp_path / "fresh"
    shutil.copytree(seed.root / "blobs", root / "blobs")
    manifest = (image.manifest.media_type, str(image.manifest.digest), image.manifest.size)
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_first_use_worker, args=(str(root), w, manifest)) for w in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    names = ref_names(LocalStore(root))
    assert sorted(n for n in names if "@" not in n) == [f"docker.io/first/use:{w}" for w in range(6)]


# ------------------------------------------------------------------------------ interop

needs_skopeo = pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo not installed")
needs_umoci = pytest.mark.skipif(shutil.which("umoci") is None, reason="umoci not installed")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_AUTH")}
    return subprocess.run(list(args), capture_output=True, text=True, timeout=60, env=env)


@needs_skopeo
def test_skopeo_reads_full_references(store: LocalStore, tmp_path: Path) -> None:
    built = populate(store)
    out = _run("skopeo", "inspect", f"oci:{store.root}:docker.io/library/busybox:latest")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["Digest"] == str(built["busybox"].manifest.digest)
    assert doc["Created"] == "2024-01-23T00:00:00Z"
    out = _run("skopeo", "inspect", "--config", f"oci:{store.root}:127.0.0.1:5000/team/app:v1")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["config"]["Labels"] == {"maintainer": "team", "tier": "web"}
    digest_ref = f"docker.io/library/busybox@{built['busybox'].manifest.digest}"
    out = _run("skopeo", "inspect", "--raw", f"oci:{store.root}:{digest_ref}")
    assert out.returncode == 0, out.stderr
    assert out.stdout.encode() == store.read_blob(built["busybox"].manifest.digest)
    # A copy out of the store verifies every blob digest.
    out = _run("skopeo", "copy", f"oci:{store.root}:127.0.0.1:5000/team/app:v1", f"dir:{tmp_path / 'copy'}")
    assert out.returncode == 0, out.stderr


@needs_skopeo
def test_skopeo_reads_multi_arch_entry(store: LocalStore) -> None:
    built = populate(store)
    out = _run(
        "skopeo", "--override-arch", "amd64", "--override-os", "linux",
        "inspect", f"oci:{store.root}:docker.io/library/multi:latest",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["Architecture"] == "amd64"
    raw = _run("skopeo", "inspect", "--raw", f"oci:{store.root}:docker.io/library/multi:latest")
    assert json.loads(raw.stdout)["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert built["multi_index"].manifest.digest == Digest.parse(
        "sha256:" + __import__("hashlib").sha256(raw.stdout.encode()).hexdigest()
    )


@needs_skopeo
def test_skopeo_writes_into_the_store(store: LocalStore) -> None:
    populate(store)
    out = _run(
        "skopeo", "copy", f"oci:{store.root}:docker.io/library/busybox:latest",
        f"oci:{store.root}:docker.io/library/copied:v9",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    record = store.resolve("copied:v9")
    assert "copied:v9" in record.repo_tags
    assert any("copied:v9" in r.repo_tags for r in store.images())
    store.tag("copied:v9", "copied:v10")  # our writes keep skopeo's entry
    assert "docker.io/library/copied:v9" in ref_names(store)


@needs_umoci
def test_umoci_lists_and_unpacks(store: LocalStore, tmp_path: Path) -> None:
    populate(store)
    out = _run("umoci", "ls", "--layout", str(store.root))
    assert out.returncode == 0, out.stderr
    assert "docker.io/library/busybox:latest" in out.stdout.split()
    assert "127.0.0.1:5000/team/app:v1" in out.stdout.split()
    out = _run("umoci", "stat", "--image", f"{store.root}:127.0.0.1:5000/team/app:v1")
    assert out.returncode == 0, out.stderr
    bundle = tmp_path / "bundle"
    out = _run(
        "umoci", "unpack", "--rootless", "--image", f"{store.root}:127.0.0.1:5000/team/app:v1", str(bundle)
    )
    assert out.returncode == 0, out.stderr
    assert (bundle / "rootfs" / "app").is_file()
    assert (bundle / "rootfs" / "base").is_file()


def test_two_manifests_with_one_config_keep_their_own_manifest(store: LocalStore) -> None:
    import hashlib

    from cargobay.oci.manifest import Descriptor

    image = write_image(store)
    # The same config with a differently compressed layer: another manifest, the same image ID.
    other_layer = store.put_blob(b"not-really-zstd")
    doc = json.loads(store.read_blob(image.manifest.digest))
    doc["layers"][0].update(
        digest=str(other_layer), size=15, mediaType="application/vnd.oci.image.layer.v1.tar+zstd"
    )
    raw = json.dumps(doc).encode()
    other = Descriptor(image.manifest.media_type, store.put_blob(raw), len(raw))
    assert other.digest == Digest("sha256", hashlib.sha256(raw).hexdigest())
    store.add_reference("a:1", image.manifest)
    store.add_reference("b:1", other)
    by_ref = {str(e.ref): e.info for e in store._entries() if e.ref is not None and e.info is not None}
    assert by_ref["docker.io/library/a:1"].manifest.digest == image.manifest.digest
    assert by_ref["docker.io/library/b:1"].manifest.digest == other.digest
    assert by_ref["docker.io/library/b:1"].size == 15
    assert store.get_reference("b:1") == Descriptor(other.media_type, other.digest, other.size)


def test_listing_reads_no_blob(store: LocalStore) -> None:
    populate(store)
    expected = [(r.id, r.references, r.size, r.created) for r in store.images()]
    shutil.rmtree(store.root / "blobs")  # listing must not need a single blob
    assert [(r.id, r.references, r.size, r.created) for r in store.images()] == expected
    (store.root / "listing.json").unlink()  # nor does a full read of index.json's annotations
    assert [(r.id, r.references, r.size, r.created) for r in store.images()] == expected
