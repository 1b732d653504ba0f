"""The whole API once per metadata backend: SQLite (the session hub) and PostgreSQL."""

from __future__ import annotations

import json
import os
import threading
from typing import Any

from hubclient import OCI_EMPTY, OCI_INDEX, OCI_MANIFEST, Client, expect_error, sha256

OCTET = {"Content-Type": "application/octet-stream"}


def test_push_pull_list_delete_cycle(backend_client: Client, repo_name: str) -> None:
    client = backend_client
    # blobs: chunked, monolithic, mounted
    data = os.urandom(2500)
    location = client.start_upload(repo_name)
    first = client.request("PATCH", location, data[:1500], {**OCTET, "Content-Range": "0-1499"})
    assert first.status == 202 and first.h("range") == "0-1499", first
    location = first.h("location") or location
    assert client.get(location).h("range") == "0-1499"
    sep = "&" if "?" in location else "?"
    done = client.request(
        "PUT", f"{location}{sep}digest={sha256(data)}", data[1500:], {**OCTET, "Content-Range": "1500-2499"}
    )
    assert done.status == 201, done
    ranged = client.get(f"/v2/{repo_name}/blobs/{sha256(data)}", {"Range": "bytes=500-1499"})
    assert ranged.status == 206 and ranged.body == data[500:1500], ranged.status
    image = client.push_image(repo_name, "v1", layers=2)
    other = repo_name + "-mounted"
    mount = client.request("POST", f"/v2/{other}/blobs/uploads/?mount={sha256(data)}&from={repo_name}")
    assert mount.status == 201, mount
    assert client.get(f"/v2/{other}/blobs/{sha256(data)}").body == data

    # manifests: tags in byte order, pagination, index, referrers
    for tag in ("B", "a", "_x", "10", "9"):
        assert client.put_manifest(repo_name, tag, image.raw, image.media_type).status == 201
    expected = sorted(["B", "a", "_x", "10", "9", "v1"], key=str.encode)
    assert client.get(f"/v2/{repo_name}/tags/list").json()["tags"] == expected
    page = client.get(f"/v2/{repo_name}/tags/list?n=4")
    assert page.json()["tags"] == expected[:4] and 'rel="next"' in (page.h("link") or ""), page
    rest = client.get(f"/v2/{repo_name}/tags/list?n=4&last={expected[3]}")
    assert rest.json()["tags"] == expected[4:] and rest.h("link") is None, rest
    index = json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [image.descriptor()]}
    ).encode()
    assert client.put_manifest(repo_name, "index", index, OCI_INDEX).status == 201
    client.push_blob(repo_name, b"{}")
    referrer: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.example.sig",
        "config": {"mediaType": OCI_EMPTY, "digest": sha256(b"{}"), "size": 2},
        "layers": [],
        "subject": image.descriptor(),
        "annotations": {"k": "v"},
    }
    raw_referrer = json.dumps(referrer).encode()
    put = client.put_manifest(repo_name, sha256(raw_referrer), raw_referrer, OCI_MANIFEST)
    assert put.status == 201 and put.h("oci-subject") == image.digest, put
    listed = client.get(f"/v2/{repo_name}/referrers/{image.digest}?artifactType=application/vnd.example.sig")
    assert listed.h("oci-filters-applied") == "artifactType", listed
    assert [(d["digest"], d["annotations"]) for d in listed.json()["manifests"]] == [
        (sha256(raw_referrer), {"k": "v"})
    ]
    assert client.get(f"/v2/{repo_name}/referrers/{image.digest}?artifactType=x/y").json()["manifests"] == []
    catalog = client.get("/v2/_catalog?n=10000").json()["repositories"]
    assert repo_name in catalog and catalog == sorted(catalog, key=str.encode)

    # bad input on this backend too
    expect_error(client.get(f"/v2/{repo_name}/tags/list?n=-1"), 400, "PAGINATION_NUMBER_INVALID")
    ghost = {**image.descriptor(), "digest": sha256(b"ghost")}
    bad_index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [ghost]}).encode()
    expect_error(client.put_manifest(repo_name, "bad", bad_index, OCI_INDEX), 400, "MANIFEST_BLOB_UNKNOWN")

    # deletes
    assert client.delete(f"/v2/{repo_name}/manifests/B").status == 202
    assert client.get(f"/v2/{repo_name}/manifests/a").body == image.raw
    assert client.delete(f"/v2/{repo_name}/manifests/{image.digest}").status == 202
    for ref in ("a", "v1", image.digest):
        expect_error(client.get(f"/v2/{repo_name}/manifests/{ref}"), 404, "MANIFEST_UNKNOWN")
    assert client.get(f"/v2/{repo_name}/tags/list").json()["tags"] == ["index"]
    assert client.delete(f"/v2/{repo_name}/blobs/{sha256(data)}").status == 202
    expect_error(client.get(f"/v2/{repo_name}/blobs/{sha256(data)}"), 404, "BLOB_UNKNOWN")
    assert client.get(f"/v2/{other}/blobs/{sha256(data)}").body == data
    expect_error(client.get(f"/v2/{repo_name}-never/tags/list"), 404, "NAME_UNKNOWN")


def test_digest_mismatch_and_cancel(backend_client: Client, repo_name: str) -> None:
    client = backend_client
    data = os.urandom(500)
    location = client.start_upload(repo_name)
    sep = "&" if "?" in location else "?"
    wrong = client.request("PUT", f"{location}{sep}digest={sha256(b'other')}", data, OCTET)
    expect_error(wrong, 400, "DIGEST_INVALID")
    assert not client.blob_exists(repo_name, sha256(data))
    assert not client.blob_exists(repo_name, sha256(b"other"))
    cancelled = client.start_upload(repo_name)
    assert client.delete(cancelled).status == 204
    expect_error(client.get(cancelled), 404, "BLOB_UPLOAD_UNKNOWN")


def test_concurrent_tag_and_blob_pushes(backend_client: Client, repo_name: str) -> None:
    client = backend_client
    data = os.urandom(50_000)
    images = [client.push_image(repo_name) for _ in range(4)]
    barrier = threading.Barrier(8)
    results: list[Any] = [None] * 8

    def run(i: int) -> None:
        barrier.wait()
        try:
            if i < 4:
                results[i] = client.request(
                    "POST", f"/v2/{repo_name}/blobs/uploads/?digest={sha256(data)}", data, OCTET
                ).status
            else:
                image = images[i - 4]
                results[i] = client.put_manifest(repo_name, "race", image.raw, image.media_type).status
        except Exception as exc:  # reported below
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results == [201] * 8, results
    assert client.get(f"/v2/{repo_name}/blobs/{sha256(data)}").body == data
    winner = client.get(f"/v2/{repo_name}/manifests/race")
    assert winner.status == 200 and winner.body in {image.raw for image in images}
    assert client.get(f"/v2/{repo_name}/tags/list").json()["tags"] == ["race"]
