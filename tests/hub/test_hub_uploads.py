"""Blob uploads: POST, monolithic, POST+PUT, chunked, streamed, cancel, mount, sha512, bad input."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hubclient import Client, Resp, expect_error, send_partial, sha256, sha512

OCTET = {"Content-Type": "application/octet-stream"}


def _put(client: Client, location: str, digest: str, body: bytes | None = None, **headers: str) -> Resp:
    sep = "&" if "?" in location else "?"
    return client.request("PUT", f"{location}{sep}digest={digest}", body, {**OCTET, **headers})


def test_post_starts_a_session(client: Client, repo_name: str) -> None:
    resp = client.request("POST", f"/v2/{repo_name}/blobs/uploads/")
    assert resp.status == 202, resp
    location = resp.h("location")
    assert location and f"/v2/{repo_name}/blobs/uploads/" in location, resp
    assert int(resp.h("oci-chunk-min-length") or "0") >= 1, resp
    assert resp.h("range") == "0-0", resp
    second = client.request("POST", f"/v2/{repo_name}/blobs/uploads/")
    assert second.h("location") != location, "session ids must be unique"
    status = client.get(location)
    assert status.status == 204, status


def test_single_post_monolithic(client: Client, repo_name: str) -> None:
    data = os.urandom(1500)
    digest = sha256(data)
    resp = client.request("POST", f"/v2/{repo_name}/blobs/uploads/?digest={digest}", data, OCTET)
    assert resp.status == 201, resp
    assert resp.h("docker-content-digest") == digest
    assert resp.h(
        "location",
    ) and digest in (resp.h("location") or "")
    assert client.get(resp.h("location") or "").body == data


def test_post_then_put(client: Client, repo_name: str) -> None:
    data = os.urandom(777)
    digest = sha256(data)
    location = client.start_upload(repo_name)
    resp = _put(client, location, digest, data)
    assert resp.status == 201, resp
    assert resp.h(
        "location",
    ) and (resp.h("location") or "").endswith(f"/v2/{repo_name}/blobs/{digest}")
    assert resp.h("docker-content-digest") == digest
    assert client.get(f"/v2/{repo_name}/blobs/{digest}").body == data
    # the session is closed
    expect_error(client.get(location), 404, "BLOB_UPLOAD_UNKNOWN")
    expect_error(_put(client, location, digest, data), 404, "BLOB_UPLOAD_UNKNOWN")


def _patch(client: Client, location: str, chunk: bytes, start: int | None) -> Resp:
    headers = dict(OCTET)
    if start is not None:
        headers["Content-Range"] = f"{start}-{start + len(chunk) - 1}"
    return client.request("PATCH", location, chunk, headers)


@pytest.mark.parametrize("last_chunk_on_put", [False, True])
def test_chunked_upload(client: Client, repo_name: str, last_chunk_on_put: bool) -> None:
    min_length = 1024
    data = os.urandom(3 * min_length - 5)
    chunks = [data[:min_length], data[min_length : 2 * min_length], data[2 * min_length :]]
    digest = sha256(data)
    location = client.start_upload(repo_name)

    # out of order: the first chunk must start at 0
    expect_error(_patch(client, location, chunks[1], min_length), 416)
    first = _patch(client, location, chunks[0], 0)
    assert first.status == 202, first
    assert first.h("range") == f"0-{min_length - 1}", first
    location = first.h("location") or location
    # retrying the chunk just sent is out of order now
    expect_error(_patch(client, location, chunks[0], 0), 416)
    status = client.get(location)
    assert status.status == 204, status
    assert status.h("range") == f"0-{min_length - 1}", status
    assert status.h("location"), status
    second = _patch(client, location, chunks[1], min_length)
    assert second.status == 202, second
    assert second.h("range") == f"0-{2 * min_length - 1}", second
    location = second.h("location") or location
    if last_chunk_on_put:
        # an out-of-order final chunk on PUT is refused too
        wrong = _put(client, location, digest, chunks[2], **{"Content-Range": f"0-{len(chunks[2]) - 1}"})
        expect_error(wrong, 416)
        done = _put(
            client,
            location,
            digest,
            chunks[2],
            **{"Content-Range": f"{2 * min_length}-{len(data) - 1}"},
        )
    else:
        third = _patch(client, location, chunks[2], 2 * min_length)
        assert third.status == 202 and third.h("range") == f"0-{len(data) - 1}", third
        done = _put(client, third.h("location") or location, digest)
    assert done.status == 201, done
    assert done.h("docker-content-digest") == digest
    got = client.get(f"/v2/{repo_name}/blobs/{digest}")
    assert got.status == 200 and got.body == data, got.status


def test_streamed_patch(client: Client, repo_name: str) -> None:
    data = os.urandom(5000)
    digest = sha256(data)
    location = client.start_upload(repo_name)
    first = client.request("PATCH", location, data[:3000], OCTET)
    assert first.status == 202, first
    assert first.h("range") == "0-2999", first
    second = client.request("PATCH", first.h("location") or location, data[3000:], OCTET)
    assert second.status == 202 and second.h("range") == "0-4999", second
    done = _put(client, second.h("location") or location, digest)
    assert done.status == 201, done
    assert client.get(f"/v2/{repo_name}/blobs/{digest}").body == data


def test_cancel_upload(client: Client, repo_name: str) -> None:
    location = client.start_upload(repo_name)
    assert _patch(client, location, b"x" * 100, 0).status == 202
    resp = client.delete(location)
    assert resp.status == 204, resp
    expect_error(client.get(location), 404, "BLOB_UPLOAD_UNKNOWN")
    expect_error(_patch(client, location, b"y" * 10, 100), 404, "BLOB_UPLOAD_UNKNOWN")
    expect_error(_put(client, location, sha256(b"x" * 100)), 404, "BLOB_UPLOAD_UNKNOWN")
    expect_error(client.delete(location), 404, "BLOB_UPLOAD_UNKNOWN")


def test_cross_repository_mount(client: Client, repo_name: str) -> None:
    source = repo_name + "-source"
    data = os.urandom(600)
    digest = client.push_blob(source, data)
    resp = client.request("POST", f"/v2/{repo_name}/blobs/uploads/?mount={digest}&from={source}")
    assert resp.status == 201, resp
    assert (resp.h("location") or "").endswith(f"/v2/{repo_name}/blobs/{digest}"), resp
    got = client.get(f"/v2/{repo_name}/blobs/{digest}")
    assert got.status == 200 and got.body == data
    # the mount is a link: deleting it in one repository leaves the other untouched
    assert client.delete(f"/v2/{repo_name}/blobs/{digest}").status == 202
    assert client.blob_exists(source, digest)


@pytest.mark.parametrize("case", ["unknown-blob", "unknown-source", "no-from", "invalid-from-blob"])
def test_mount_falls_back_to_an_upload_session(client: Client, repo_name: str, case: str) -> None:
    source = repo_name + "-src"
    present = client.push_blob(source, os.urandom(200))
    hidden = client.push_blob(repo_name + "-private", os.urandom(200))
    query = {
        "unknown-blob": f"?mount={sha256(os.urandom(8))}&from={source}",
        "unknown-source": f"?mount={present}&from={source}-missing",
        "no-from": f"?mount={present}",
        "invalid-from-blob": f"?mount={hidden}&from={source}",
    }[case]
    resp = client.request("POST", f"/v2/{repo_name}/blobs/uploads/{query}")
    assert resp.status == 202, resp
    location = resp.h("location")
    assert location and "/blobs/uploads/" in location, resp
    assert not client.blob_exists(repo_name, present)
    assert not client.blob_exists(repo_name, hidden)
    # the new session works
    data = os.urandom(64)
    assert _put(client, location, sha256(data), data).status == 201


def test_sha512_end_to_end(client: Client, repo_name: str) -> None:
    data = os.urandom(3000)
    digest = sha512(data)
    location = client.start_upload(repo_name, "?digest-algorithm=sha512")
    assert _patch(client, location, data[:2000], 0).status == 202
    done = _put(client, location, digest, data[2000:], **{"Content-Range": f"2000-{len(data) - 1}"})
    assert done.status == 201, done
    assert done.h("docker-content-digest") == digest
    head = client.head(f"/v2/{repo_name}/blobs/{digest}")
    assert head.status == 200 and head.h("content-length") == "3000", head
    assert head.h("docker-content-digest") == digest
    assert client.get(f"/v2/{repo_name}/blobs/{digest}").body == data
    # single POST with a sha512 digest
    other = os.urandom(100)
    mono = client.request("POST", f"/v2/{repo_name}/blobs/uploads/?digest={sha512(other)}", other, OCTET)
    assert mono.status in (201, 202), mono
    if mono.status == 202:
        mono = _put(client, mono.h("location") or "", sha512(other), other)
    assert mono.status == 201, mono
    assert client.get(f"/v2/{repo_name}/blobs/{sha512(other)}").body == other
    # POST+PUT with a sha512 digest and no digest-algorithm
    third = os.urandom(99)
    assert _put(client, client.start_upload(repo_name), sha512(third), third).status == 201
    assert client.get(f"/v2/{repo_name}/blobs/{sha512(third)}").body == third


def test_unsupported_digest_algorithm_for_upload(client: Client, repo_name: str) -> None:
    expect_error(
        client.request("POST", f"/v2/{repo_name}/blobs/uploads/?digest-algorithm=md5"), 400, "DIGEST_INVALID"
    )


def test_zero_byte_blob(client: Client, repo_name: str) -> None:
    digest = sha256(b"")
    location = client.start_upload(repo_name)
    assert _put(client, location, digest).status == 201
    head = client.head(f"/v2/{repo_name}/blobs/{digest}")
    assert head.status == 200 and head.h("content-length") == "0", head
    get = client.get(f"/v2/{repo_name}/blobs/{digest}")
    assert get.status == 200 and get.body == b"", get
    mono = client.request("POST", f"/v2/{repo_name}-mono/blobs/uploads/?digest={digest}", b"", OCTET)
    assert mono.status == 201, mono


def test_unknown_upload_ids(client: Client, repo_name: str) -> None:
    client.start_upload(repo_name)
    for upload_id in ("0" * 32, "not-an-upload", "x" * 200, "..", "%2e%2e"):
        path = f"/v2/{repo_name}/blobs/uploads/{upload_id}"
        for method, body in (("GET", None), ("PATCH", b"abc"), ("PUT", b""), ("DELETE", None)):
            target = path + (f"?digest={sha256(b'')}" if method == "PUT" else "")
            resp = client.request(method, target, body, OCTET if body is not None else None)
            expect_error(resp, (404, 400), "BLOB_UPLOAD_UNKNOWN", "NAME_INVALID")
            if upload_id == "0" * 32:
                assert resp.status == 404, resp


def test_upload_id_of_another_repository(client: Client, repo_name: str) -> None:
    location = client.start_upload(repo_name)
    upload_id = location.rstrip("/").rsplit("/", 1)[1].split("?")[0]
    other = f"/v2/{repo_name}-other/blobs/uploads/{upload_id}"
    data = b"hello"
    expect_error(client.get(other), 404, "BLOB_UPLOAD_UNKNOWN")
    expect_error(client.request("PATCH", other, data, OCTET), 404, "BLOB_UPLOAD_UNKNOWN")
    expect_error(_put(client, other, sha256(data), data), 404, "BLOB_UPLOAD_UNKNOWN")
    expect_error(client.delete(other), 404, "BLOB_UPLOAD_UNKNOWN")
    assert not client.blob_exists(repo_name + "-other", sha256(data))
    # the session is untouched in its own repository
    assert client.get(location).status == 204
    assert _put(client, location, sha256(data), data).status == 201


def _stray_files(storage: Path, digest: str) -> list[Path]:
    hexpart = digest.split(":", 1)[1]
    return [p for p in (storage / "blobs").rglob("*") if p.is_file() and p.name == hexpart]


def test_digest_mismatch_stores_nothing(client: Client, repo_name: str, hub_storage: Path) -> None:
    data = os.urandom(1000)
    wrong = sha256(b"something else " + os.urandom(4))
    uploads_before = set((hub_storage / "uploads").iterdir())

    location = client.start_upload(repo_name)
    expect_error(_put(client, location, wrong, data), 400, "DIGEST_INVALID")
    mono = client.request("POST", f"/v2/{repo_name}/blobs/uploads/?digest={wrong}", data, OCTET)
    expect_error(mono, 400, "DIGEST_INVALID")
    chunked = client.start_upload(repo_name)
    assert _patch(client, chunked, data, 0).status == 202
    expect_error(_put(client, chunked, wrong), 400, "DIGEST_INVALID")

    for digest in (wrong, sha256(data)):
        assert not client.blob_exists(repo_name, digest)
        assert _stray_files(hub_storage, digest) == []
    leftover = set((hub_storage / "uploads").iterdir()) - uploads_before
    assert leftover == set(), leftover
    # the blob can still be pushed properly afterwards
    assert client.push_blob(repo_name, data) == sha256(data)


def test_put_without_digest(client: Client, repo_name: str) -> None:
    location = client.start_upload(repo_name)
    resp = client.request("PUT", location, b"abc", OCTET)
    expect_error(resp, 400, "DIGEST_INVALID")
    bad = client.request(
        "PUT", location + ("&" if "?" in location else "?") + "digest=sha256:nothex", b"", OCTET
    )
    expect_error(bad, 400, "DIGEST_INVALID")


@pytest.mark.parametrize(
    "content_range", ["bytes=0-9", "0-", "-9", "a-b", "5-2", "0-9-10", " ", "0-99999999999999999999"]
)
def test_bad_content_range(client: Client, repo_name: str, content_range: str) -> None:
    location = client.start_upload(repo_name)
    resp = client.request("PATCH", location, b"0123456789", {**OCTET, "Content-Range": content_range})
    expect_error(resp, (400, 416))
    status = client.get(location)
    assert status.status == 204 and status.h("range") in ("0-0", None), status


def test_content_length_disagreeing_with_content_range(client: Client, repo_name: str) -> None:
    location = client.start_upload(repo_name)
    resp = client.request("PATCH", location, b"0123456789", {**OCTET, "Content-Range": "0-19"})
    expect_error(resp, 400, "SIZE_INVALID")
    status = client.get(location)
    assert status.status == 204 and status.h("range") in ("0-0", None), status
    # the session still works
    ok = _patch(client, location, b"0123456789", 0)
    assert ok.status == 202 and ok.h("range") == "0-9", ok


def test_final_chunk_on_put_must_match_its_content_range(client: Client, repo_name: str) -> None:
    data = os.urandom(2000)
    location = client.start_upload(repo_name)
    assert _patch(client, location, data[:1000], 0).status == 202
    # the range claims 1000 bytes, the body has 500: whatever the digest, this is not the blob
    half = data[1000:1500]
    wrong = _put(client, location, sha256(data[:1500]), half, **{"Content-Range": "1000-1999"})
    expect_error(wrong, 400, "SIZE_INVALID")
    assert not client.blob_exists(repo_name, sha256(data[:1500]))


def test_concurrent_patches_on_one_session(client: Client, repo_name: str) -> None:
    location = client.start_upload(repo_name)
    chunks = [os.urandom(200_000) for _ in range(4)]
    barrier = threading.Barrier(len(chunks))
    results: list[Any] = [None] * len(chunks)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = _patch(client, location, chunks[i], 0)
        except Exception as exc:  # reported below
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(chunks))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    statuses = sorted(r.status for r in results)
    assert statuses.count(202) == 1 and set(statuses) <= {202, 416}, results
    winner = chunks[next(i for i, r in enumerate(results) if r.status == 202)]
    status = client.get(location)
    assert status.h("range") == f"0-{len(winner) - 1}", status
    done = _put(client, location, sha256(winner))
    assert done.status == 201, done
    assert client.get(f"/v2/{repo_name}/blobs/{sha256(winner)}").body == winner


def test_resume_after_a_dropped_chunk(client: Client, repo_name: str) -> None:
    first, big = 100_000, 6 * 1024 * 1024  # a chunk bigger than the hub's write buffer
    data = os.urandom(first + big + first)
    location = client.start_upload(repo_name)
    assert _patch(client, location, data[:first], 0).status == 202
    # the second chunk's connection drops after 5 MiB
    head = (
        f"PATCH {location} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Range: {first}-{first + big - 1}\r\nContent-Length: {big}\r\n\r\n"
    ).encode()
    sock = send_partial(client.address, head, data[first : first + 5 * 1024 * 1024])
    time.sleep(0.5)
    sock.close()
    time.sleep(0.3)
    # the client asks where the upload is, and carries on from there
    status = client.get(location)
    assert status.status == 204 and status.h("range") == f"0-{first - 1}", status
    for start, end in ((first, first + big), (first + big, len(data))):
        resp = _patch(client, location, data[start:end], start)
        for _ in range(5):  # 416 while the hub still finishes the dropped request: ask, then retry
            if resp.status != 416:
                break
            time.sleep(0.5)
            assert client.get(location).h("range") == f"0-{start - 1}"
            resp = _patch(client, location, data[start:end], start)
        assert resp.status == 202 and resp.h("range") == f"0-{end - 1}", resp
    done = _put(client, location, sha256(data))
    assert done.status == 201, done
    assert client.get(f"/v2/{repo_name}/blobs/{sha256(data)}").body == data
