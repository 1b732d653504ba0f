"""Leaving an organisation through the JSON API: `DELETE /api/orgs/{org}/members/{own name}` by
any member; an owner only while another owner remains; to outsiders the organisation does not
exist. Against a real hub with token auth (the module's `token_hub`)."""

from __future__ import annotations

from apiclient import Api, User, unique_name

KEEP_AN_OWNER = "an organisation must keep at least one owner"


def _org(api: Api, owner: User, **members: str) -> str:
    """A new organisation owned by `owner`, with `members` (username=role) added by the owner."""
    org = unique_name("o")
    assert api.call("POST", "/api/orgs", {"name": org}, auth=owner.password_auth).status == 201
    for name, role in members.items():
        reply = api.call("PUT", f"/api/orgs/{org}/members/{name}", {"role": role}, auth=owner.password_auth)
        assert reply.status == 200, reply
    return org


def _members(api: Api, org: str, user: User) -> dict[str, str]:
    reply = api.call("GET", f"/api/orgs/{org}/members", auth=user.password_auth)
    assert reply.status == 200, reply
    return {entry["username"]: entry["role"] for entry in reply.json()["results"]}


def _leave(api: Api, org: str, user: User, name: str | None = None) -> tuple[int, dict[str, str]]:
    reply = api.call("DELETE", f"/api/orgs/{org}/members/{name or user.name}", auth=user.password_auth)
    return reply.status, (reply.json() if reply.body else {})


def test_a_member_leaves(api: Api) -> None:
    alice, bob, carol = api.sign_up(), api.sign_up(), api.sign_up()
    org = _org(api, alice, **{bob.name: "member", carol.name: "member"})
    # A member may not remove someone else…
    assert _leave(api, org, bob, carol.name)[0] == 403
    # …but may remove themselves, in any letter case of their name.
    assert _leave(api, org, bob, bob.name.upper()) == (204, {})
    assert _members(api, org, alice) == {alice.name: "owner", carol.name: "member"}
    # Gone: the organisation no longer exists for bob, and leaving twice is the same 404.
    assert api.call("GET", f"/api/orgs/{org}/members", auth=bob.password_auth).status == 404
    assert _leave(api, org, bob) == (404, {"message": f"no such organisation: {org}", "field": "org"})


def test_the_last_owner_cannot_leave_until_another_owner_exists(api: Api) -> None:
    alice, bob = api.sign_up(), api.sign_up()
    org = _org(api, alice, **{bob.name: "member"})
    assert _leave(api, org, alice) == (400, {"message": KEEP_AN_OWNER, "field": "role"})
    assert _members(api, org, alice) == {alice.name: "owner", bob.name: "member"}
    promoted = api.call(
        "PUT", f"/api/orgs/{org}/members/{bob.name}", {"role": "owner"}, auth=alice.password_auth
    )
    assert promoted.status == 200
    assert _leave(api, org, alice)[0] == 204
    assert _members(api, org, bob) == {bob.name: "owner"}
    assert _leave(api, org, bob) == (400, {"message": KEEP_AN_OWNER, "field": "role"})


def test_outsiders_learn_nothing(api: Api) -> None:
    alice, mallory = api.sign_up(), api.sign_up()
    org = _org(api, alice)
    missing = unique_name("o")
    for name in (org, missing):
        assert _leave(api, name, mallory) == (
            404,
            {"message": f"no such organisation: {name}", "field": "org"},
        )
    assert api.call("DELETE", f"/api/orgs/{org}/members/{mallory.name}").status == 401
    assert _members(api, org, alice) == {alice.name: "owner"}


def test_leaving_needs_the_password(api: Api) -> None:
    alice = api.sign_up()
    bob = api.sign_up(pat=True)
    org = _org(api, alice, **{bob.name: "member"})
    by_token = api.call("DELETE", f"/api/orgs/{org}/members/{bob.name}", auth=(bob.name, bob.pat))
    assert by_token.status == 403 and "access tokens cannot" in by_token.json()["message"]
    assert _members(api, org, alice) == {alice.name: "owner", bob.name: "member"}
