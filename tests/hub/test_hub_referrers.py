"""The referrers API: an OCI index of the manifests whose subject is a digest."""

from __future__ import annotations

import json
import os
from typing import Any

from hubclient import OCI_EMPTY, OCI_INDEX, OCI_MANIFEST, Client, expect_error, sha256


def _push_referrer(
    client: Client, repo: str, subject: dict[str, Any], artifact_type: str | None, note: str
) -> tuple[str, int]:
    client.push_blob(repo, b"{}")
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_EMPTY, "digest": sha256(b"{}"), "size": 2},
        "layers": [],
        "subject": subject,
        "annotations": {"note": note},
    }
    if artifact_type:
        doc["artifactType"] = artifact_type
    raw = json.dumps(doc).encode()
    resp = client.put_manifest(repo, sha256(raw), raw, OCI_MANIFEST)
    assert resp.status == 201, resp
    return sha256(raw), len(raw)


def _referrers(client: Client, repo: str, digest: str, query: str = "") -> list[dict[str, Any]]:
    resp = client.get(f"/v2/{repo}/referrers/{digest}{query}")
    assert resp.status == 200, resp
    assert (resp.h("content-type") or "").split(";")[0] == OCI_INDEX, resp
    doc = resp.json()
    assert doc["schemaVersion"] == 2 and doc.get("mediaType", OCI_INDEX) == OCI_INDEX, doc
    manifests: list[dict[str, Any]] = doc["manifests"]
    return manifests


def test_referrers_list_and_filter(client: Client, repo_name: str) -> None:
    subject = client.push_image(repo_name, "app")
    pushed = {}
    for i, kind in enumerate(["application/vnd.example.sig", "application/vnd.example.sbom"] * 2 + [None]):
        digest, size = _push_referrer(client, repo_name, subject.descriptor(), kind, f"n{i}")
        pushed[digest] = (size, kind or OCI_EMPTY, f"n{i}")
    # an unrelated manifest with another subject is not listed
    other = client.push_image(repo_name)
    _push_referrer(client, repo_name, other.descriptor(), "application/vnd.example.sig", "other")

    found = _referrers(client, repo_name, subject.digest)
    assert {d["digest"] for d in found} == set(pushed), found
    for d in found:
        size, kind, note = pushed[d["digest"]]
        assert d["mediaType"] == OCI_MANIFEST and d["size"] == size, d
        assert d["artifactType"] == kind, d  # explicit, else the config media type
        assert d["annotations"] == {"note": note}, d

    resp = client.get(f"/v2/{repo_name}/referrers/{subject.digest}?artifactType=application/vnd.example.sbom")
    assert resp.status == 200 and resp.h("oci-filters-applied") == "artifactType", resp
    filtered = resp.json()["manifests"]
    assert len(filtered) == 2 and {d["artifactType"] for d in filtered} == {"application/vnd.example.sbom"}
    assert client.get(f"/v2/{repo_name}/referrers/{subject.digest}").h("oci-filters-applied") is None


def test_referrers_of_a_missing_subject(client: Client, repo_name: str) -> None:
    missing = sha256(os.urandom(8))
    ghost = {"mediaType": OCI_MANIFEST, "digest": missing, "size": 99}
    digest, _ = _push_referrer(client, repo_name, ghost, "application/vnd.example.early", "early")
    assert [d["digest"] for d in _referrers(client, repo_name, missing)] == [digest]


def test_referrers_are_per_repository(client: Client, repo_name: str) -> None:
    subject = client.push_image(repo_name, "app")
    _push_referrer(client, repo_name, subject.descriptor(), "application/vnd.example.sig", "x")
    client.push_image(repo_name + "-other", "app")
    assert _referrers(client, repo_name + "-other", subject.digest) == []


def test_referrers_of_unknown_subject_is_an_empty_index(client: Client, repo_name: str) -> None:
    client.push_image(repo_name, "app")
    assert _referrers(client, repo_name, sha256(os.urandom(8))) == []
    assert _referrers(client, repo_name + "-never-pushed", sha256(os.urandom(8))) == []


def test_deleted_referrer_disappears(client: Client, repo_name: str) -> None:
    subject = client.push_image(repo_name, "app")
    digest, _ = _push_referrer(client, repo_name, subject.descriptor(), "application/vnd.example.sig", "x")
    assert len(_referrers(client, repo_name, subject.digest)) == 1
    assert client.delete(f"/v2/{repo_name}/manifests/{digest}").status == 202
    assert _referrers(client, repo_name, subject.digest) == []


def test_referrers_bad_digest(client: Client, repo_name: str) -> None:
    client.push_image(repo_name, "app")
    for bad in ("sha256:baddigeststring", "latest", "sha256:" + "A" * 64, "md5:" + "0" * 32):
        expect_error(client.get(f"/v2/{repo_name}/referrers/{bad}"), 400, "DIGEST_INVALID")


def test_referrers_pagination(client: Client, repo_name: str) -> None:
    subject = client.push_image(repo_name, "app")
    pushed = set()
    for i in range(5):
        kind = "application/vnd.example.sig" if i % 2 else "application/vnd.example.sbom"
        pushed.add(_push_referrer(client, repo_name, subject.descriptor(), kind, f"n{i}")[0])
    for query, expected in (("?n=2", pushed), ("?n=1&artifactType=application/vnd.example.sig", None)):
        seen: list[str] = []
        path: str | None = f"/v2/{repo_name}/referrers/{subject.digest}{query}"
        while path:
            resp = client.get(path)
            assert resp.status == 200, resp
            page = resp.json()["manifests"]
            assert 1 <= len(page) <= 2, resp
            seen += [d["digest"] for d in page]
            link = resp.h("link")
            path = link.split(">", 1)[0].lstrip("<") if link else None
            if "artifactType" in query:
                assert resp.h("oci-filters-applied") == "artifactType", resp
                assert {d["artifactType"] for d in page} == {"application/vnd.example.sig"}
        assert len(seen) == len(set(seen)), "a referrer came twice"
        if expected is not None:
            assert set(seen) == expected
        else:
            assert len(seen) == 2


def test_index_referrer_without_artifact_type(client: Client, repo_name: str) -> None:
    subject = client.push_image(repo_name, "app")
    child = client.push_image(repo_name)
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [child.descriptor()],
        "subject": subject.descriptor(),
        "annotations": {"a": "1", "b": "2"},
    }
    raw = json.dumps(doc).encode()
    resp = client.put_manifest(repo_name, sha256(raw), raw, OCI_INDEX)
    assert resp.status == 201 and resp.h("oci-subject") == subject.digest, resp
    found = _referrers(client, repo_name, subject.digest)
    assert found == [
        {"mediaType": OCI_INDEX, "digest": sha256(raw), "size": len(raw), "annotations": {"a": "1", "b": "2"}}
    ]
