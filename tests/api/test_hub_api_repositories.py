"""`/api/repositories/{namespace}/` and `/api/repositories/{namespace}/{repo}/` against a real hub:
the namespace's list (pagination links, ordering, private repositories), a repository's page
(descriptions, counts, permissions), PATCH rules and personal access token scopes, deletion."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from apiclient import Api, unique_name
from authhub import push_image
from hubapi import error, eventually, follow, names, ok, pull_manifest, push, query_of, registry_headers

from support.servers import Hub, ServerProcess

SUMMARY_FIELDS = {
    "name",
    "namespace",
    "repository_type",
    "description",
    "is_private",
    "is_official",
    "star_count",
    "pull_count",
    "last_updated",
    "date_registered",
}


def test_namespace_list_pages_with_links_and_hides_private_repositories(api: Api, api_hub: Hub) -> None:
    owner, other = api.sign_up(pat=True), api.sign_up(pat=True)
    for index in range(5):
        push(api, api_hub, owner, f"{owner.name}/app{index}", seed=str(index).encode())
    secret = ok(
        api.call("PATCH", f"/api/repositories/{owner.name}/app2", {"is_private": True}, auth=owner.auth)
    )
    assert secret["is_private"] is True

    first = ok(api.call("GET", f"/api/repositories/{owner.name}/?page_size=2"))
    assert first["count"] == 4 and names(first) == ["app0", "app1"] and first["previous"] is None
    assert set(first["results"][0]) == SUMMARY_FIELDS
    item = first["results"][0]
    assert item["namespace"] == owner.name and item["is_private"] is False and item["is_official"] is False
    assert item["last_updated"].endswith("Z") and item["date_registered"].endswith("Z")
    assert first["next"] == f"http://{api.address}/api/repositories/{owner.name}/?page_size=2&page=2"
    second = ok(follow(api, first["next"]))
    assert names(second) == ["app3", "app4"] and second["next"] is None
    assert ok(follow(api, second["previous"])) == first
    # others see the same; the owner (password or token) sees the private one too
    assert ok(api.call("GET", f"/api/repositories/{owner.name}", auth=other.auth))["count"] == 4
    mine = ok(api.call("GET", f"/api/repositories/{owner.name}?page_size=100", auth=owner.auth))
    assert names(mine) == [f"app{i}" for i in range(5)] and mine["next"] is None
    reader = api.create_pat(owner, "read")["token"]
    assert ok(api.call("GET", f"/api/repositories/{owner.name}", auth=(owner.name, reader)))["count"] == 5

    by_name = ok(api.call("GET", f"/api/repositories/{owner.name}?ordering=-name", auth=owner.auth))
    assert names(by_name) == [f"app{i}" for i in reversed(range(5))]
    newest = ok(api.call("GET", f"/api/repositories/{owner.name}?ordering=last_updated", auth=owner.auth))
    assert names(newest) == [f"app{i}" for i in reversed(range(5))]
    past_the_end = ok(api.call("GET", f"/api/repositories/{owner.name}?page=9&page_size=2"))
    assert past_the_end["results"] == [] and past_the_end["next"] is None
    assert query_of(past_the_end["previous"]) == {"page": "2", "page_size": "2"}
    assert ok(api.call("GET", f"/api/repositories/{unique_name()}/"))["count"] == 0

    for query, field in [
        ("page_size=101", "page_size"),
        ("page_size=0", "page_size"),
        ("page=0", "page"),
        ("page=x", "page"),
        ("ordering=size", "ordering"),
        ("page=1001&page_size=10", "page"),  # anonymous callers stop at 10,000 results
    ]:
        reply = api.call("GET", f"/api/repositories/{owner.name}/?{query}")
        assert reply.status == 400 and error(reply)["field"] == field, (query, reply)
    assert api.call("GET", f"/api/repositories/{owner.name}/?page=1001", auth=other.auth).status == 200


def test_repository_page_shows_descriptions_counts_and_permissions(api: Api, api_hub: Hub) -> None:
    owner, other = api.sign_up(pat=True), api.sign_up(pat=True)
    name = f"{owner.name}/web"
    pushed = push(api, api_hub, owner, name)

    page = ok(api.call("GET", f"/api/repositories/{name}/"))
    assert page == {
        **{key: page[key] for key in ("last_updated", "date_registered")},
        "name": "web",
        "namespace": owner.name,
        "repository_type": "image",
        "description": "",
        "full_description": "",
        "is_private": False,
        "is_official": False,
        "star_count": 0,
        "pull_count": 0,
        "has_starred": False,
        "permissions": {"read": True, "write": False, "admin": False},
    }
    assert page["last_updated"] >= page["date_registered"]
    assert ok(api.call("GET", f"/api/repositories/{name}", auth=other.auth))["permissions"]["write"] is False

    # each manifest GET counts one pull (HEAD does not); counts reach the database within a second
    headers = registry_headers(api, other, name, "pull")
    assert pull_manifest(api_hub, headers, name, "v1") == 200
    assert pull_manifest(api_hub, headers, name, pushed.digest) == 200
    assert eventually(lambda: ok(api.call("GET", f"/api/repositories/{name}"))["pull_count"] == 2), (
        "pulls not counted"
    )

    readme = "# Web\n\nServes **pages**.\n"
    changed = ok(
        api.call(
            "PATCH",
            f"/api/repositories/{name}/",
            {"description": "A web server", "full_description": readme},
            auth=owner.auth,
        )
    )
    assert changed["description"] == "A web server" and changed["full_description"] == readme
    assert changed["permissions"] == {"read": True, "write": True, "admin": True}
    listed = ok(api.call("GET", f"/api/repositories/{owner.name}/"))["results"]
    assert [r["description"] for r in listed] == ["A web server"]

    def patch(body: dict[str, object], auth: tuple[str, str] | None) -> int:
        return api.call("PATCH", f"/api/repositories/{name}", body, auth=auth).status

    too_long = api.call("PATCH", f"/api/repositories/{name}", {"description": "x" * 101}, auth=owner.auth)
    assert too_long.status == 400 and error(too_long)["field"] == "description"
    assert patch({"description": "x" * 100}, owner.auth) == 200
    two_lines = api.call("PATCH", f"/api/repositories/{name}", {"description": "a\nb"}, auth=owner.auth)
    assert two_lines.status == 400 and error(two_lines)["field"] == "description"
    assert patch({"full_description": 5}, owner.auth) == 400
    assert patch({}, owner.auth) == 400
    assert patch({"description": "mine now"}, other.auth) == 403
    assert patch({"description": "anonymous"}, None) == 401

    # token scopes: read cannot change anything; read-write may edit descriptions, not visibility
    read = (owner.name, api.create_pat(owner, "read")["token"])
    read_write = (owner.name, api.create_pat(owner, "read-write")["token"])
    assert patch({"description": "by a read token"}, read) == 403
    assert patch({"is_private": True}, read) == 403
    assert patch({"description": "by a read-write token"}, read_write) == 200
    assert patch({"is_private": True}, read_write) == 403
    assert patch({"is_private": True, "description": "both"}, read_write) == 403
    final = ok(api.call("GET", f"/api/repositories/{name}", auth=read))
    assert final["description"] == "by a read-write token" and final["is_private"] is False
    assert final["permissions"] == {"read": True, "write": False, "admin": False}  # the token's scope


def test_private_repositories_answer_like_missing_ones_everywhere(api: Api, api_hub: Hub) -> None:
    owner, other = api.sign_up(pat=True), api.sign_up(pat=True)
    name = f"{owner.name}/hidden"
    push(api, api_hub, owner, name)
    ok(api.call("PATCH", f"/api/repositories/{name}", {"is_private": True}, auth=owner.auth))
    missing = f"{owner.name}/{unique_name('none')}"

    calls = [
        ("GET", ""),
        ("GET", "/"),
        ("GET", "/tags/"),
        ("GET", "/tags/v1/"),
        ("PATCH", "/"),
        ("DELETE", "/"),
        ("DELETE", "/tags/v1"),
        ("PUT", "/star"),
        ("DELETE", "/star"),
    ]
    for method, suffix in calls:
        body = {"description": "x"} if method == "PATCH" else None
        for caller in (None, other.auth):
            if caller is None and method != "GET":
                continue
            hidden = api.call(method, f"/api/repositories/{name}{suffix}", body, auth=caller)
            absent = api.call(method, f"/api/repositories/{missing}{suffix}", body, auth=caller)
            assert hidden.status == 404, (method, suffix, hidden)
            assert (hidden.status, hidden.body) == (absent.status, absent.body), (method, suffix)
    assert ok(api.call("GET", f"/api/repositories/{name}/tags/", auth=owner.auth))["count"] == 1


def test_deleting_a_repository_needs_the_delete_permission_and_keeps_blobs(api: Api, api_hub: Hub) -> None:
    owner, other = api.sign_up(pat=True), api.sign_up(pat=True)
    name = f"{owner.name}/gone"
    pushed = push(api, api_hub, owner, name)
    push(api, api_hub, owner, name, tag="v2", seed=b"y")
    assert api.call("PUT", f"/api/repositories/{name}/star", auth=other.auth).status == 204

    assert api.call("DELETE", f"/api/repositories/{name}/").status == 401
    assert api.call("DELETE", f"/api/repositories/{name}/", auth=other.auth).status == 403
    for scope in ("read", "read-write"):
        token = api.create_pat(owner, scope)["token"]
        refused = api.call("DELETE", f"/api/repositories/{name}/", auth=(owner.name, token))
        assert refused.status == 403, (scope, refused)
    assert api.call("DELETE", f"/api/repositories/{name}/", auth=owner.auth).status == 204

    assert api.call("GET", f"/api/repositories/{name}/", auth=owner.auth).status == 404
    assert api.call("DELETE", f"/api/repositories/{name}/", auth=owner.auth).status == 404
    assert ok(api.call("GET", f"/api/repositories/{owner.name}/", auth=owner.auth))["count"] == 0
    assert ok(api.call("GET", "/api/user/starred", auth=other.auth))["count"] == 0
    headers = registry_headers(api, owner, name, "pull")
    assert pull_manifest(api_hub, headers, name, "v1") == 404
    assert pull_manifest(api_hub, headers, name, pushed.digest) == 404
    # the blobs stay on disk for garbage collection
    blob = Path(api_hub.data_dir) / "storage" / "blobs" / "sha256" / pushed.layer_digest.split(":")[1]
    assert blob.exists()

    # the name can be pushed to again, starting afresh
    time.sleep(0.01)
    push(api, api_hub, owner, name, tag="v3", seed=b"z")
    fresh = ok(api.call("GET", f"/api/repositories/{name}/", auth=owner.auth))
    assert fresh["star_count"] == 0 and fresh["pull_count"] == 0
    tags = ok(api.call("GET", f"/api/repositories/{name}/tags", auth=owner.auth))
    assert names(tags) == ["v3"]


def test_organisation_owners_delete_and_members_may_not(api: Api, api_hub: Hub) -> None:
    owner, member = api.sign_up(pat=True), api.sign_up(pat=True)
    org = unique_name("org")
    ok(api.call("POST", "/api/orgs", {"name": org}, auth=owner.password_auth), 201)
    ok(
        api.call(
            "PUT", f"/api/orgs/{org}/members/{member.name}", {"role": "member"}, auth=owner.password_auth
        )
    )
    name = f"{org}/tool"
    push(api, api_hub, member, name)
    page = ok(api.call("GET", f"/api/repositories/{name}", auth=member.auth))
    assert page["permissions"] == {"read": True, "write": True, "admin": False}
    assert (
        api.call("PATCH", f"/api/repositories/{name}", {"description": "x"}, auth=member.auth).status == 403
    )
    assert api.call("DELETE", f"/api/repositories/{name}", auth=member.auth).status == 403
    assert api.call("PATCH", f"/api/repositories/{name}", {"description": "x"}, auth=owner.auth).status == 200
    assert api.call("DELETE", f"/api/repositories/{name}", auth=owner.auth).status == 204


def test_an_open_hub_serves_the_same_pages_to_everyone(hub: ServerProcess) -> None:
    """With `auth: none` (the session's hub) everything is public and nobody signs in."""
    if not isinstance(hub, Hub):
        pytest.skip("the session's registry is not a cargobay hub")
    api = Api(hub.url)
    namespace = unique_name("open")
    pushed = push_image(hub, f"{namespace}/app", {}, tag="v1")
    listed = ok(api.call("GET", f"/api/repositories/{namespace}/"))
    assert listed["count"] == 1 and names(listed) == ["app"]
    page = ok(api.call("GET", f"/api/repositories/{namespace}/app"))
    assert page["permissions"] == {"read": True, "write": False, "admin": False}
    tags = ok(api.call("GET", f"/api/repositories/{namespace}/app/tags"))
    assert [t["digest"] for t in tags["results"]] == [pushed.digest]
    assert api.call("DELETE", f"/api/repositories/{namespace}/app").status == 401
    assert api.call("PUT", f"/api/repositories/{namespace}/app/star").status == 401


def test_visibility_settings_and_the_refusals_of_patch(api: Api, api_hub: Hub) -> None:
    """PATCH is a thin adapter over HubRepositories.update_settings: the same statuses, messages
    and order of checks (hidden, then bad input, then permission), nothing half-applied."""
    owner, other = api.sign_up(pat=True), api.sign_up(pat=True)
    name = f"{owner.name}/settings"
    push(api, api_hub, owner, name)
    url = f"/api/repositories/{name}/"

    hidden = ok(api.call("PATCH", url, {"is_private": True}, auth=owner.auth))
    assert hidden["is_private"] is True
    assert api.call("GET", url, auth=other.auth).status == 404
    refused = api.call("PATCH", url, {"is_private": False}, auth=other.auth)
    assert (refused.status, error(refused)) == (404, {"message": "repository not found"})
    assert ok(api.call("GET", url, auth=owner.auth))["is_private"] is True

    # the delete scope may change the visibility, and both settings at once
    both = ok(api.call("PATCH", url, {"is_private": False, "description": "Open again"}, auth=owner.auth))
    assert (both["is_private"], both["description"]) == (False, "Open again")
    assert ok(api.call("GET", url))["is_private"] is False

    settings = api.call("PATCH", url, {"is_private": True}, auth=other.auth)
    assert (settings.status, error(settings)) == (
        403,
        {"message": "only owners of the namespace can change a repository's settings"},
    )
    descriptions = api.call("PATCH", url, {"full_description": "# mine"}, auth=other.auth)
    assert (descriptions.status, error(descriptions)) == (
        403,
        {"message": "only owners of the namespace can change a repository's descriptions"},
    )
    # bad input is reported before the missing permission
    too_long = api.call("PATCH", url, {"is_private": True, "description": "x" * 101}, auth=other.auth)
    assert too_long.status == 400 and error(too_long)["field"] == "description"
    nul = api.call("PATCH", url, {"full_description": "a\x00b"}, auth=owner.auth)
    assert nul.status == 400 and error(nul)["field"] == "full_description"
    not_bool = api.call("PATCH", url, {"is_private": "yes"}, auth=owner.auth)
    assert not_bool.status == 400 and error(not_bool)["field"] == "is_private"
    # a refused visibility change leaves the descriptions alone too
    assert api.call("PATCH", url, {"is_private": True, "description": "half"}, auth=other.auth).status == 403
    after = ok(api.call("GET", url))
    assert (after["is_private"], after["description"], after["full_description"]) == (False, "Open again", "")
    anonymous = api.call("PATCH", url, {"is_private": True})
    assert anonymous.status == 401

    # an organisation's owners may change the visibility, its members may not
    org = unique_name("org")
    ok(api.call("POST", "/api/orgs", {"name": org}, auth=owner.password_auth), 201)
    ok(api.call("PUT", f"/api/orgs/{org}/members/{other.name}", {"role": "member"}, auth=owner.password_auth))
    tool = f"/api/repositories/{org}/tool/"
    push(api, api_hub, other, f"{org}/tool")
    assert api.call("PATCH", tool, {"is_private": True}, auth=other.auth).status == 403
    assert ok(api.call("PATCH", tool, {"is_private": True}, auth=owner.auth))["is_private"] is True
    assert ok(api.call("GET", tool, auth=other.auth))["is_private"] is True  # members still see it
