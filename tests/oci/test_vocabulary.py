"""Digests, names and manifest parsing: the grammar, and parsers that never crash."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cargobay.oci import mediatypes as mt
from cargobay.oci.digest import Digest, InvalidDigest
from cargobay.oci.errors import ErrorCode, RegistryError, parse_error_body
from cargobay.oci.manifest import InvalidManifest, parse_manifest
from cargobay.oci.names import InvalidName, is_valid_tag, validate_repository

GOOD = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    "text",
    [
        "sha256:baddigeststring",
        "sha256:" + "A" * 64,
        "sha256:" + "a" * 63,
        "md5:" + "a" * 32,
        "sha256:../../" + "a" * 58,
        "x" * 300 + ":" + "a" * 64,
        GOOD + "\n",
        "",
    ],
)
def test_bad_digests_are_rejected(text: str) -> None:
    with pytest.raises(InvalidDigest):
        Digest.parse(text)


def test_good_digests() -> None:
    assert str(Digest.parse(GOOD)) == GOOD
    assert Digest.parse("sha512:" + "0" * 128).algorithm == "sha512"


@pytest.mark.parametrize(
    "name", ["Upper/case", "a..b", "a//b", "a/", "-a", "a___b", "a" * 256, "a/%2e%2e", "a\nb", ""]
)
def test_bad_repository_names(name: str) -> None:
    with pytest.raises(InvalidName):
        validate_repository(name)


@pytest.mark.parametrize("name", ["a", "library/ubuntu", "a.b/c-d/e__f", "a---b/c_d", "x" * 255])
def test_good_repository_names(name: str) -> None:
    assert validate_repository(name) == name


def test_tags() -> None:
    assert is_valid_tag("v1.0_rc-1")
    assert is_valid_tag("_x")
    assert not is_valid_tag(".x")
    assert not is_valid_tag("-x")
    assert not is_valid_tag("a" * 129)
    assert not is_valid_tag("a/b")
    assert not is_valid_tag("latest\n")


def _manifest(**extra: object) -> bytes:
    doc = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "config": {"mediaType": mt.OCI_CONFIG, "digest": GOOD, "size": 2},
        "layers": [{"mediaType": mt.OCI_LAYER_GZIP, "digest": GOOD, "size": 3}],
    }
    doc.update(extra)
    return json.dumps(doc).encode()


def test_manifest_type_confusion_is_rejected() -> None:
    with pytest.raises(InvalidManifest, match="does not match Content-Type"):
        parse_manifest(_manifest(), mt.OCI_INDEX)
    with pytest.raises(InvalidManifest, match="both manifests and layers"):
        parse_manifest(_manifest(manifests=[]), mt.OCI_MANIFEST)


def test_manifest_fields() -> None:
    subject = {"mediaType": mt.OCI_MANIFEST, "digest": GOOD, "size": 9}
    parsed = parse_manifest(_manifest(subject=subject, artifactType="application/x"), mt.OCI_MANIFEST)
    assert parsed.subject is not None and str(parsed.subject.digest) == GOOD
    assert parsed.effective_artifact_type == "application/x"
    assert parse_manifest(_manifest()).effective_artifact_type == mt.OCI_CONFIG


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b"[]",
        b'{"schemaVersion": 1}',
        b"[" * 100000 + b"]" * 100000,
        _manifest(layers=[{"mediaType": "x", "digest": GOOD, "size": -1}]),
        _manifest(layers=[{"mediaType": "x", "digest": "sha256:bad", "size": 1}]),
        _manifest(mediaType="application/unknown"),
    ],
)
def test_invalid_manifests(body: bytes) -> None:
    with pytest.raises(InvalidManifest):
        parse_manifest(body, None)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000) | st.text(max_size=2000).map(str.encode))
def test_manifest_parser_never_crashes(body: bytes) -> None:
    with contextlib.suppress(InvalidManifest):
        parse_manifest(body, mt.OCI_MANIFEST)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_digest_and_name_parsers_never_crash(text: str) -> None:
    for parse in (Digest.parse, validate_repository):
        with contextlib.suppress(InvalidDigest, InvalidName):
            parse(text)


def test_error_bodies_round_trip() -> None:
    body = RegistryError(ErrorCode.MANIFEST_UNKNOWN, detail={"tag": "x"}).body()
    (parsed,) = parse_error_body(body)
    assert parsed.code == "MANIFEST_UNKNOWN"
    assert str(parsed) == "manifest unknown: manifest unknown"
    assert parse_error_body(b"not json") == []
