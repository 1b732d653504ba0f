"""Push a small one-layer image over the registry API (for tests that need content on a hub)."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass

from support.http import request
from support.servers import ServerProcess

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def basic_auth(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@dataclass
class Pushed:
    manifest: bytes
    digest: str
    layer_digest: str


def upload_blob(hub: ServerProcess, repository: str, headers: dict[str, str], blob: bytes) -> str:
    """A monolithic upload (POST with the digest); asserts 201; returns the digest."""
    answer = request(
        "POST",
        f"{hub.base_url}/v2/{repository}/blobs/uploads/?digest={digest_of(blob)}",
        headers={**headers, "Content-Type": "application/octet-stream"},
        data=blob,
    )
    assert answer.status == 201, (answer.status, answer.body)
    return digest_of(blob)


def put_manifest(
    hub: ServerProcess,
    repository: str,
    headers: dict[str, str],
    ref: str,
    body: bytes,
    media: str = OCI_MANIFEST,
) -> None:
    answer = request(
        "PUT",
        f"{hub.base_url}/v2/{repository}/manifests/{ref}",
        headers={**headers, "Content-Type": media},
        data=body,
    )
    assert answer.status == 201, (answer.status, answer.body)


def push_image(
    hub: ServerProcess, repository: str, headers: dict[str, str], tag: str = "v1", seed: bytes = b"x"
) -> Pushed:
    """Push a one-layer image whose content depends on `seed`; asserts every step succeeded."""
    layer = b"layer:" + seed * 100
    config = json.dumps({"architecture": "amd64", "os": "linux", "seed": seed.decode()}).encode()
    for blob in (layer, config):
        upload_blob(hub, repository, headers, blob)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": digest_of(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": digest_of(layer),
                    "size": len(layer),
                }
            ],
        }
    ).encode()
    put_manifest(hub, repository, headers, tag, manifest)
    return Pushed(manifest, digest_of(manifest), digest_of(layer))
