"""GET /v2/ and the blob endpoints: GET, HEAD, Range, DELETE, repository isolation."""

from __future__ import annotations

import os

import pytest
from hubclient import Client, expect_error, sha256


def test_base_endpoint_answers_with_api_version(client: Client) -> None:
    for method in ("GET", "HEAD"):
        resp = client.request(method, "/v2/")
        assert resp.status == 200, resp
        assert resp.h("docker-distribution-api-version") == "registry/2.0", resp


def test_blob_get_and_head(client: Client, repo_name: str) -> None:
    data = os.urandom(2048)
    digest = client.push_blob(repo_name, data)
    head = client.head(f"/v2/{repo_name}/blobs/{digest}")
    assert head.status == 200, head
    assert head.h("docker-content-digest") == digest
    assert head.h("content-length") == "2048"
    assert head.body == b""
    get = client.get(f"/v2/{repo_name}/blobs/{digest}")
    assert get.status == 200, get
    assert get.body == data
    assert get.h("docker-content-digest") == digest
    assert get.h("content-length") == "2048"


@pytest.fixture
def blob2048(client: Client, repo_name: str) -> tuple[str, bytes]:
    data = os.urandom(2048)
    return f"/v2/{repo_name}/blobs/{client.push_blob(repo_name, data)}", data


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=500-1499", 500, 1499),
        ("bytes=500-", 500, 2047),
        ("bytes=-500", 1548, 2047),
        ("bytes=2000-5000", 2000, 2047),
        ("bytes=0-0", 0, 0),
    ],
)
def test_blob_range(client: Client, blob2048: tuple[str, bytes], header: str, first: int, last: int) -> None:
    path, data = blob2048
    resp = client.get(path, {"Range": header})
    assert resp.status == 206, resp
    assert resp.body == data[first : last + 1]
    assert resp.h("content-range") in (f"bytes {first}-{last}/2048", f"bytes {first}-{last}/*"), resp
    assert resp.h("content-length") == str(last - first + 1)


@pytest.mark.parametrize("header", ["bytes=500-0", "bytes=5000-10000", "bytes=2048-"])
def test_blob_range_not_satisfiable(client: Client, blob2048: tuple[str, bytes], header: str) -> None:
    path, _ = blob2048
    resp = client.get(path, {"Range": header})
    assert resp.status == 416, resp
    assert resp.body != blob2048[1]


def test_blob_delete_then_404(client: Client, repo_name: str) -> None:
    digest = client.push_blob(repo_name, os.urandom(100))
    resp = client.delete(f"/v2/{repo_name}/blobs/{digest}")
    assert resp.status == 202, resp
    for method in ("GET", "HEAD"):
        gone = client.request(method, f"/v2/{repo_name}/blobs/{digest}")
        assert gone.status == 404, gone
    expect_error(client.get(f"/v2/{repo_name}/blobs/{digest}"), 404, "BLOB_UNKNOWN")
    expect_error(client.delete(f"/v2/{repo_name}/blobs/{digest}"), 404, "BLOB_UNKNOWN")


def test_unknown_blob(client: Client, repo_name: str) -> None:
    client.push_blob(repo_name, b"something so the repository exists")
    digest = sha256(os.urandom(16))
    expect_error(client.get(f"/v2/{repo_name}/blobs/{digest}"), 404, "BLOB_UNKNOWN")
    head = client.head(f"/v2/{repo_name}/blobs/{digest}")
    assert head.status == 404 and head.body == b"", head
    expect_error(
        client.get(f"/v2/{repo_name}-nothing-here/blobs/{digest}"), 404, "BLOB_UNKNOWN", "NAME_UNKNOWN"
    )


def test_blob_of_another_repository_is_invisible(client: Client, repo_name: str) -> None:
    digest = client.push_blob(repo_name, os.urandom(300))
    other = repo_name + "-other"
    client.push_blob(other, b"other content")
    expect_error(client.get(f"/v2/{other}/blobs/{digest}"), 404, "BLOB_UNKNOWN")
    assert client.head(f"/v2/{other}/blobs/{digest}").status == 404
    expect_error(client.delete(f"/v2/{other}/blobs/{digest}"), 404, "BLOB_UNKNOWN")
    assert client.blob_exists(repo_name, digest)


def test_range_edge_cases(client: Client, repo_name: str) -> None:
    empty = client.push_blob(repo_name, b"")
    resp = client.get(f"/v2/{repo_name}/blobs/{empty}", {"Range": "bytes=0-10"})
    assert resp.status in (200, 416) and resp.body in (b"", resp.body if resp.status == 416 else b""), resp
    data = os.urandom(100)
    path = f"/v2/{repo_name}/blobs/{client.push_blob(repo_name, data)}"
    # several ranges: the whole blob (200) or multipart (206), never a refusal
    several = client.get(path, {"Range": "bytes=0-9,20-29"})
    assert several.status in (200, 206), several
    if several.status == 200:
        assert several.body == data and several.h("content-length") == "100", several
    # a unit the server does not know must be ignored (RFC 9110 §14.2)
    for header in ("pages=1-2", "items=0-5"):
        ignored = client.get(path, {"Range": header})
        assert ignored.status == 200 and ignored.body == data, ignored
    head = client.head(path, {"Range": "bytes=10-19"})
    assert head.status in (200, 206) and head.body == b"", head
