"""Several worker processes, crashes (kill -9), concurrent pushes of one blob, deletes disabled."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hubclient import (
    OCI_CONFIG,
    OCI_LAYER,
    OCI_MANIFEST,
    Client,
    child_pids,
    expect_error,
    request_on_worker,
    send_partial,
    sha256,
)

from support.servers import Hub, ServerProcess

OCTET = {"Content-Type": "application/octet-stream"}


def test_upload_continues_on_another_worker(hub: ServerProcess, repo_name: str) -> None:
    if getattr(hub, "data_dir", None) is None:
        pytest.skip("looks at the cargobay hub's worker processes")
    address = hub.url
    assert hub.process is not None
    workers = child_pids(hub.process.pid)
    assert len(workers) == 2, workers
    chunk = 1024
    data = os.urandom(chunk * 16)
    resp, first_pid = request_on_worker(address, "POST", f"/v2/{repo_name}/blobs/uploads/", workers=workers)
    assert resp.status == 202, resp
    location = resp.h("location") or ""
    pids = {first_pid}
    switches = 0
    previous = first_pid
    for offset in range(0, len(data), chunk):
        headers = {**OCTET, "Content-Range": f"{offset}-{offset + chunk - 1}"}
        resp, pid = request_on_worker(
            address, "PATCH", location, data[offset : offset + chunk], headers, workers
        )
        assert resp.status == 202, resp
        assert resp.h("range") == f"0-{offset + chunk - 1}", resp
        location = resp.h("location") or location
        status, status_pid = request_on_worker(address, "GET", location, workers=workers)
        assert status.status == 204 and status.h("range") == f"0-{offset + chunk - 1}", status
        switches += (pid != previous) + (status_pid != pid)
        previous = status_pid
        pids |= {pid, status_pid}
    sep = "&" if "?" in location else "?"
    done, pid = request_on_worker(
        address, "PUT", f"{location}{sep}digest={sha256(data)}", b"", OCTET, workers
    )
    assert done.status == 201, done
    pids.add(pid)
    assert None not in pids, "could not tell which worker answered"
    assert len(pids) >= 2 and switches >= 2, (
        f"all requests went to one worker {pids}; the test proves nothing"
    )
    # every worker serves the finished blob
    seen = set()
    for _ in range(20):
        got, pid = request_on_worker(address, "GET", f"/v2/{repo_name}/blobs/{sha256(data)}", workers=workers)
        assert got.status == 200 and got.body == data, got.status
        seen.add(pid)
    assert len(seen) >= 2, seen
    assert pids <= set(workers)


def test_manifest_pushed_on_one_worker_is_visible_on_all(hub: ServerProcess, repo_name: str) -> None:
    client = Client(hub.url)
    image = client.push_image(repo_name, "v1")
    for _ in range(20):
        resp, _pid = request_on_worker(hub.url, "GET", f"/v2/{repo_name}/manifests/v1")
        assert resp.status == 200 and resp.body == image.raw, resp
    assert client.delete(f"/v2/{repo_name}/manifests/v1").status == 202
    for _ in range(20):
        resp, _pid = request_on_worker(hub.url, "GET", f"/v2/{repo_name}/manifests/v1")
        assert resp.status == 404, resp


# --------------------------------------------------------------------------- crashes


def _blob_files(storage: Path) -> set[str]:
    return {p.name for p in (storage / "blobs").rglob("*") if p.is_file()}


def _wait_for(predicate: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _upload_file_size(storage: Path, upload_id: str) -> int:
    try:
        return (storage / "uploads" / upload_id).stat().st_size
    except FileNotFoundError:
        return 0


@pytest.mark.parametrize("how", ["patch", "put", "post-digest"])
def test_kill_during_blob_upload(start_hub: Callable[..., Hub], repo_name: str, how: str) -> None:
    hub = start_hub(workers=2)
    client = Client(hub.url)
    storage = hub.data_dir / "storage"
    data = os.urandom(10 * 1024 * 1024)
    digest = sha256(data)
    location = client.start_upload(repo_name)
    upload_id = location.split("?")[0].rstrip("/").rsplit("/", 1)[1]
    if how == "patch":
        head = f"PATCH {location} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
        head += f"Content-Range: 0-{len(data) - 1}\r\n"
    elif how == "put":
        head = f"PUT {location}?digest={digest} HTTP/1.1\r\nHost: x\r\n"
    else:
        head = f"POST /v2/{repo_name}/blobs/uploads/?digest={digest} HTTP/1.1\r\nHost: x\r\n"
    head += f"Content-Length: {len(data)}\r\n\r\n"
    sock = send_partial(hub.url, head.encode(), data[: 6 * 1024 * 1024])
    try:
        if how != "post-digest":
            # the hub has written part of it to disk: we kill it in the middle of the upload
            _wait_for(lambda: _upload_file_size(storage, upload_id) >= 4 * 1024 * 1024)
        else:
            time.sleep(0.5)
        hub.kill()
    finally:
        sock.close()
    hub.restart()
    client = Client(hub.url)
    assert not client.blob_exists(repo_name, digest)
    assert client.get(f"/v2/{repo_name}/blobs/{digest}").status == 404
    assert digest.split(":")[1] not in _blob_files(storage)
    status = client.get(location)
    if status.status == 204:  # the session survived: it must say where it really is
        end = int((status.h("range") or "0-0").split("-")[1])
        assert end < len(data) - 1, status
    else:
        expect_error(status, 404, "BLOB_UPLOAD_UNKNOWN")
    # the hub serves normally, and the same blob can be pushed again
    assert client.get("/v2/").status == 200
    assert client.push_blob(repo_name, data) == digest
    assert client.get(f"/v2/{repo_name}/blobs/{digest}").body == data
    chunked = client.start_upload(repo_name + "-again")
    patched = client.request("PATCH", chunked, data[:1000], {**OCTET, "Content-Range": "0-999"})
    assert patched.status == 202, patched
    sep = "&" if "?" in chunked else "?"
    finished = client.request("PUT", f"{chunked}{sep}digest={sha256(data[:1000])}", b"", OCTET)
    assert finished.status == 201, finished


def test_kill_during_manifest_put(start_hub: Callable[..., Hub], repo_name: str) -> None:
    hub = start_hub(workers=1)
    client = Client(hub.url)
    config, layer = b'{"architecture":"amd64","os":"linux"}', os.urandom(100)
    client.push_blob(repo_name, config)
    client.push_blob(repo_name, layer)
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": sha256(config), "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER, "digest": sha256(layer), "size": len(layer)}],
        "annotations": {"pad": "x" * 2_000_000},
    }
    raw = json.dumps(doc).encode()
    head = (
        f"PUT /v2/{repo_name}/manifests/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: {OCI_MANIFEST}\r\n"
        f"Content-Length: {len(raw)}\r\n\r\n"
    ).encode()
    sock = send_partial(hub.url, head, raw[: len(raw) // 2])
    try:
        time.sleep(0.5)
        hub.kill()
    finally:
        sock.close()
    hub.restart()
    client = Client(hub.url)
    for ref in ("v1", sha256(raw)):
        assert client.head(f"/v2/{repo_name}/manifests/{ref}").status == 404
        expect_error(client.get(f"/v2/{repo_name}/manifests/{ref}"), 404, "MANIFEST_UNKNOWN")
    tags = client.get(f"/v2/{repo_name}/tags/list")
    assert tags.status == 404 or tags.json()["tags"] in ([], None), tags
    # the blobs pushed before the crash are still there, and the push now succeeds
    assert client.blob_exists(repo_name, sha256(layer))
    resp = client.put_manifest(repo_name, "v1", raw, OCI_MANIFEST)
    assert resp.status == 201, resp
    assert client.get(f"/v2/{repo_name}/manifests/v1").body == raw


# --------------------------------------------------------------------------- concurrent pushes


def _push_monolithic(client: Client, repo: str, data: bytes) -> int:
    return client.request("POST", f"/v2/{repo}/blobs/uploads/?digest={sha256(data)}", data, OCTET).status


def _push_chunked(client: Client, repo: str, data: bytes) -> int:
    location = client.start_upload(repo)
    half = len(data) // 2
    for start, part in ((0, data[:half]), (half, data[half:])):
        resp = client.request(
            "PATCH", location, part, {**OCTET, "Content-Range": f"{start}-{start + len(part) - 1}"}
        )
        if resp.status != 202:
            return resp.status
        location = resp.h("location") or location
    sep = "&" if "?" in location else "?"
    return client.request("PUT", f"{location}{sep}digest={sha256(data)}", b"", OCTET).status


def _push_post_put(client: Client, repo: str, data: bytes) -> int:
    location = client.start_upload(repo)
    sep = "&" if "?" in location else "?"
    return client.request("PUT", f"{location}{sep}digest={sha256(data)}", data, OCTET).status


def test_concurrent_pushes_of_the_same_blob(start_hub: Callable[..., Hub], repo_name: str) -> None:
    hub = start_hub(workers=2)
    client = Client(hub.url)
    storage = hub.data_dir / "storage"
    pushers = [
        _push_monolithic,
        _push_chunked,
        _push_post_put,
        _push_monolithic,
        _push_chunked,
        _push_post_put,
    ]
    blobs = [os.urandom(300_000) for _ in range(3)]
    for data in blobs:
        barrier = threading.Barrier(len(pushers))
        results: list[Any] = [None] * len(pushers)

        def run(
            i: int, data: bytes = data, barrier: threading.Barrier = barrier, results: list[Any] = results
        ) -> None:
            repo = repo_name if i % 2 == 0 else repo_name + "-twin"
            barrier.wait()
            try:
                results[i] = pushers[i](client, repo, data)
            except Exception as exc:  # reported below
                results[i] = exc

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(pushers))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert results == [201] * len(pushers), results
        for repo in (repo_name, repo_name + "-twin"):
            assert client.get(f"/v2/{repo}/blobs/{sha256(data)}").body == data
    # one copy of each blob, nothing else, no upload files left behind
    files = sorted(p for p in (storage / "blobs").rglob("*") if p.is_file())
    assert [p.name for p in files] == sorted(sha256(b).split(":")[1] for b in blobs), files
    assert all(p.parent.name == "sha256" for p in files)
    assert list((storage / "uploads").iterdir()) == []


def test_deletes_disabled(start_hub: Callable[..., Hub], repo_name: str) -> None:
    hub = start_hub(workers=1, env={"CARGOBAY_DELETE_ENABLED": "false"})
    client = Client(hub.url)
    image = client.push_image(repo_name, "v1")
    for path in (
        f"/v2/{repo_name}/manifests/v1",
        f"/v2/{repo_name}/manifests/{image.digest}",
        f"/v2/{repo_name}/blobs/{sha256(image.config)}",
    ):
        expect_error(client.delete(path), (400, 405), "UNSUPPORTED")
    assert client.get(f"/v2/{repo_name}/manifests/v1").body == image.raw
    assert client.blob_exists(repo_name, sha256(image.config))
    # uploads can still be cancelled
    assert client.delete(client.start_upload(repo_name)).status == 204
