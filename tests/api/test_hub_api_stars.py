"""Stars against a real hub: PUT/DELETE `/api/repositories/{namespace}/{repo}/star`, the counts
and `has_starred` on the repository's page and list, and `/api/user/starred` (paginated)."""

from __future__ import annotations

from apiclient import Api
from hubapi import follow, names, ok, push

from support.servers import Hub


def test_stars_count_and_show_who_starred(api: Api, api_hub: Hub) -> None:
    owner, fan, critic = api.sign_up(pat=True), api.sign_up(pat=True), api.sign_up(pat=True)
    name = f"{owner.name}/star"
    push(api, api_hub, owner, name)

    assert api.call("PUT", f"/api/repositories/{name}/star").status == 401
    read_only = (fan.name, api.create_pat(fan, "read")["token"])
    assert api.call("PUT", f"/api/repositories/{name}/star", auth=read_only).status == 204  # any scope
    assert api.call("PUT", f"/api/repositories/{name}/star/", auth=fan.auth).status == 204  # idempotent
    assert api.call("PUT", f"/api/repositories/{name}/star", auth=critic.auth).status == 204

    def page(auth: tuple[str, str] | None) -> dict[str, object]:
        body: dict[str, object] = ok(api.call("GET", f"/api/repositories/{name}", auth=auth))
        return body

    assert page(fan.auth)["star_count"] == 2 and page(fan.auth)["has_starred"] is True
    assert page(None)["has_starred"] is False and page(owner.auth)["has_starred"] is False
    assert ok(api.call("GET", f"/api/repositories/{owner.name}"))["results"][0]["star_count"] == 2

    assert api.call("DELETE", f"/api/repositories/{name}/star", auth=critic.auth).status == 204
    assert api.call("DELETE", f"/api/repositories/{name}/star", auth=critic.auth).status == 204  # idempotent
    assert page(None)["star_count"] == 1 and page(critic.auth)["has_starred"] is False


def test_starred_lists_are_paged_newest_first_and_follow_visibility(api: Api, api_hub: Hub) -> None:
    owner, fan = api.sign_up(pat=True), api.sign_up(pat=True)
    repos = [f"{owner.name}/r{index}" for index in range(3)]
    for index, name in enumerate(repos):
        push(api, api_hub, owner, name, seed=str(index).encode())
        assert api.call("PUT", f"/api/repositories/{name}/star", auth=fan.auth).status == 204

    first = ok(api.call("GET", "/api/user/starred?page_size=2", auth=fan.auth))
    assert first["count"] == 3 and names(first) == ["r2", "r1"] and first["previous"] is None
    assert first["results"][0]["namespace"] == owner.name and first["results"][0]["star_count"] == 1
    assert first["results"][0]["starred_at"].endswith("Z")
    second = ok(follow(api, first["next"], auth=fan.auth))
    assert names(second) == ["r0"] and second["next"] is None
    assert api.call("GET", "/api/user/starred").status == 401
    assert ok(api.call("GET", "/api/user/starred", auth=owner.auth))["count"] == 0

    # a repository that turns private drops out of the fan's list, and from their sight...
    ok(api.call("PATCH", f"/api/repositories/{repos[1]}", {"is_private": True}, auth=owner.auth))
    assert names(ok(api.call("GET", "/api/user/starred", auth=fan.auth))) == ["r2", "r0"]
    assert api.call("PUT", f"/api/repositories/{repos[1]}/star", auth=fan.auth).status == 404
    # ...but the star can still be taken back (once; then it is as missing as ever)
    assert api.call("DELETE", f"/api/repositories/{repos[1]}/star", auth=fan.auth).status == 204
    assert api.call("DELETE", f"/api/repositories/{repos[1]}/star", auth=fan.auth).status == 404
    assert ok(api.call("GET", f"/api/repositories/{repos[1]}", auth=owner.auth))["star_count"] == 0
