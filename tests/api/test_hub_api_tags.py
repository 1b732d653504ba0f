"""`/api/repositories/{namespace}/{repo}/tags/` and `.../tags/{tag}/` against a real hub: ordering,
the name filter and pagination; sizes and platforms of a single image and of a multi-arch index
(pushed by skopeo); deleting one tag."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from apiclient import Api
from hubapi import error, follow, names, ok, pull_manifest, push, query_of, registry_headers

from support.images import OciImage
from support.servers import Hub
from support.tools import Skopeo

TAG_FIELDS = {"name", "digest", "media_type", "full_size", "last_updated", "images"}


def test_tags_are_ordered_filtered_and_paged(api: Api, api_hub: Hub) -> None:
    owner = api.sign_up(pat=True)
    name = f"{owner.name}/lib"
    order = ["v1.0", "beta-1", "V2.0", "latest", "v1.1"]
    for index, tag in enumerate(order):
        push(api, api_hub, owner, name, tag=tag, seed=str(index).encode())
    base = f"/api/repositories/{name}/tags"

    newest = ok(api.call("GET", f"{base}/"))
    assert newest["count"] == 5 and names(newest) == list(reversed(order)) and newest["next"] is None
    assert ok(api.call("GET", f"{base}?ordering=last_updated")) == newest
    assert names(ok(api.call("GET", f"{base}?ordering=-last_updated"))) == order
    assert names(ok(api.call("GET", f"{base}?ordering=name"))) == ["V2.0", "beta-1", "latest", "v1.0", "v1.1"]
    assert names(ok(api.call("GET", f"{base}?ordering=-name"))) == [
        "v1.1",
        "v1.0",
        "latest",
        "beta-1",
        "V2.0",
    ]

    # `name` is a case-insensitive substring; LIKE's wildcards are plain characters
    assert names(ok(api.call("GET", f"{base}?name=v&ordering=name"))) == ["V2.0", "v1.0", "v1.1"]
    assert names(ok(api.call("GET", f"{base}?name=1.&ordering=name"))) == ["v1.0", "v1.1"]
    assert ok(api.call("GET", f"{base}?name=%25"))["count"] == 0
    assert ok(api.call("GET", f"{base}?name=_"))["count"] == 0
    assert names(ok(api.call("GET", f"{base}?name=-"))) == ["beta-1"]

    first = ok(api.call("GET", f"{base}/?page_size=2&ordering=name&name=v"))
    assert first["count"] == 3 and names(first) == ["V2.0", "v1.0"] and first["previous"] is None
    assert query_of(first["next"]) == {"page": "2", "page_size": "2", "ordering": "name", "name": "v"}
    second = ok(follow(api, first["next"]))
    assert names(second) == ["v1.1"] and second["next"] is None
    assert ok(follow(api, second["previous"])) == first

    bad = api.call("GET", f"{base}?ordering=size")
    assert bad.status == 400 and error(bad)["field"] == "ordering"
    assert api.call("GET", f"{base}?page_size=101").status == 400


def test_a_single_image_tag_has_its_size_and_platform(api: Api, api_hub: Hub) -> None:
    owner = api.sign_up(pat=True)
    name = f"{owner.name}/one"
    pushed = push(api, api_hub, owner, name, tag="v1")
    manifest = json.loads(pushed.manifest)
    size = manifest["config"]["size"] + sum(layer["size"] for layer in manifest["layers"])

    tag = ok(api.call("GET", f"/api/repositories/{name}/tags/v1/"))
    assert set(tag) == TAG_FIELDS
    assert tag["name"] == "v1" and tag["digest"] == pushed.digest
    assert tag["media_type"] == "application/vnd.oci.image.manifest.v1+json"
    assert tag["full_size"] == size and tag["last_updated"].endswith("Z")
    assert tag["images"] == [
        {"architecture": "amd64", "os": "linux", "variant": None, "digest": pushed.digest, "size": size}
    ]
    assert ok(api.call("GET", f"/api/repositories/{name}/tags/v1")) == tag
    assert ok(api.call("GET", f"/api/repositories/{name}/tags"))["results"] == [tag]

    missing = api.call("GET", f"/api/repositories/{name}/tags/v2")
    assert (missing.status, missing.json()) == (404, {"message": "tag not found"})
    assert api.call("GET", f"/api/repositories/{name}/tags/Not:a-tag").status == 404


def test_an_index_tag_lists_every_platform_image(
    api: Api,
    api_hub: Hub,
    skopeo: Skopeo,
    make_oci_image: Callable[..., OciImage],
    tmp_path: Path,
) -> None:
    owner = api.sign_up(pat=True)
    name = f"{owner.name}/multi"
    platforms = ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"]
    image = make_oci_image(tmp_path, layers=2, layer_size=700, platforms=platforms)
    skopeo(
        "copy",
        "--all",
        "--dest-tls-verify=false",
        "--dest-creds",
        owner.pat_creds,
        image.ref,
        f"docker://{api_hub.url}/{name}:multi",
    )

    tag = ok(api.call("GET", f"/api/repositories/{name}/tags/multi", auth=owner.auth))
    assert tag["digest"] == image.digest
    assert tag["media_type"] == "application/vnd.oci.image.index.v1+json"
    expected = []
    for platform in platforms:
        built = image.for_platform(platform)
        size = len(image.blobs[built.config_digest]) + sum(len(image.blobs[d]) for d in built.layer_digests)
        os_, arch, *variant = platform.split("/")
        expected.append(
            {
                "architecture": arch,
                "os": os_,
                "variant": variant[0] if variant else None,
                "digest": built.digest,
                "size": size,
            }
        )
    assert tag["images"] == expected
    assert tag["full_size"] == sum(entry["size"] for entry in expected)

    # a platform image pushed on its own, by digest, is tagged with its config's platform
    arm = image.for_platform("linux/arm64/v8")
    headers = registry_headers(api, owner, name)
    answer = api.call(
        "PUT",
        f"/v2/{name}/manifests/arm",
        headers={**headers, "Content-Type": arm.media_type},
        raw=arm.raw,
    )
    assert answer.status == 201, answer
    alone = ok(api.call("GET", f"/api/repositories/{name}/tags/arm"))
    assert alone["images"] == [{**expected[1], "variant": "v8"}] and alone["full_size"] == expected[1]["size"]


def test_deleting_a_tag_removes_only_that_tag(api: Api, api_hub: Hub) -> None:
    owner, other = api.sign_up(pat=True), api.sign_up(pat=True)
    name = f"{owner.name}/keep"
    pushed = push(api, api_hub, owner, name, tag="v1")
    push(api, api_hub, owner, name, tag="stable")  # the same manifest, a second tag
    push(api, api_hub, owner, name, tag="v2", seed=b"2")

    assert api.call("DELETE", f"/api/repositories/{name}/tags/v1/").status == 401
    assert api.call("DELETE", f"/api/repositories/{name}/tags/v1/", auth=other.auth).status == 403
    read = (owner.name, api.create_pat(owner, "read")["token"])
    assert api.call("DELETE", f"/api/repositories/{name}/tags/v1/", auth=read).status == 403
    assert api.call("DELETE", f"/api/repositories/{name}/tags/v1/", auth=owner.auth).status == 204
    again = api.call("DELETE", f"/api/repositories/{name}/tags/v1/", auth=owner.auth)
    assert (again.status, again.json()) == (404, {"message": "tag not found"})

    left = ok(api.call("GET", f"/api/repositories/{name}/tags?ordering=name"))
    assert names(left) == ["stable", "v2"] and left["results"][0]["digest"] == pushed.digest
    headers = registry_headers(api, owner, name, "pull")
    assert pull_manifest(api_hub, headers, name, "v1") == 404
    assert pull_manifest(api_hub, headers, name, pushed.digest) == 200
    assert ok(api.call("GET", f"/api/repositories/{name}"))["name"] == "keep"
