"""The hub's JSON API for accounts (/api/), against a real hub with token auth: sign-up rules,
password changes, account deletion, organisations and their members (driving real pushes with
skopeo), personal access tokens (also as registry credentials), and repository visibility."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from apiclient import PASSWORD, Api, bearer, unique_name

from support.images import OciImage
from support.servers import Hub
from support.tools import Skopeo


def push(skopeo: Skopeo, image: OciImage, hub: Hub, name: str, creds: str, *, check: bool = True) -> bool:
    result = skopeo(
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        creds,
        image.ref,
        f"docker://{hub.url}/{name}:v1",
        check=check,
    )
    return result.returncode == 0


# --------------------------------------------------------------------------- sign-up and login


def test_sign_up_creates_an_account_that_logs_in_with_its_password(api: Api) -> None:
    name = unique_name()
    reply = api.call(
        "POST", "/api/users", {"username": name, "email": f"{name}@Example.test", "password": PASSWORD}
    )
    assert reply.status == 201, reply
    body = reply.json()
    assert body["username"] == name and body["email"] == f"{name}@Example.test"
    assert body["date_joined"].endswith("Z") and body["is_admin"] is False
    assert "password" not in reply.body.decode() and PASSWORD not in reply.body.decode()

    me = api.call("GET", "/api/user", auth=(name, PASSWORD))
    assert me.status == 200 and me.json()["username"] == name
    # the email works as the login name too
    assert api.call("GET", "/api/user", auth=(f"{name}@example.test", PASSWORD)).status == 200

    anonymous = api.call("GET", "/api/user")
    assert anonymous.status == 401 and anonymous.headers["www-authenticate"].startswith("Basic ")
    assert anonymous.json() == {"message": "authentication required"}
    wrong = api.call("GET", "/api/user", auth=(name, "Wrong-password1"))
    assert wrong.status == 401 and wrong.headers["www-authenticate"].startswith("Basic ")
    bearer_only = api.call("GET", "/api/user", headers=bearer("not-a-jwt"))
    assert bearer_only.status == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "abc"}, "username"),  # too short
        ({"username": "a" * 31}, "username"),  # too long
        ({"username": "Alice1234"}, "username"),  # capitals
        ({"username": "alice-1234"}, "username"),  # punctuation
        ({"username": "library"}, "username"),  # reserved
        ({"username": "admin"}, "username"),  # reserved
        ({"email": "not-an-address"}, "email"),
        ({"email": "a@b"}, "email"),
        ({"password": "Short1"}, "password"),  # under 8 characters
        ({"password": "12345678901"}, "password"),  # digits only
        ({"password": "lowercaseonly"}, "password"),  # lowercase letters only
        ({"password": "x" * 257}, "password"),
        ({"username": None}, "username"),  # missing
        ({"password": 12345678}, "password"),  # not a string
    ],
)
def test_sign_up_rules_are_enforced_field_by_field(api: Api, body: dict[str, Any], field: str) -> None:
    name = unique_name()
    full: dict[str, Any] = {"username": name, "email": f"{name}@example.test", "password": PASSWORD}
    full.update(body)
    full = {k: v for k, v in full.items() if v is not None}
    reply = api.call("POST", "/api/users", full)
    assert reply.status == 400, reply
    assert reply.json()["field"] == field and reply.json()["message"]


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1, 2]", b'"text"', b"\xff\xfe"])
def test_sign_up_needs_a_json_object(api: Api, raw: bytes) -> None:
    reply = api.call("POST", "/api/users", raw=raw, headers={"Content-Type": "application/json"})
    assert reply.status == 400 and set(reply.json()) == {"message"}


def test_bodies_must_be_declared_json(api: Api) -> None:
    """A cross-site HTML form (text/plain or urlencoded) cannot post to the API."""
    name = unique_name()
    body = json.dumps({"username": name, "email": f"{name}@example.test", "password": PASSWORD}).encode()
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {"Content-Type": content_type} if content_type else {}
        reply = api.call("POST", "/api/users", raw=body, headers=headers)
        assert reply.status == 415 and "application/json" in reply.json()["message"]
    reply = api.call(
        "POST", "/api/users", raw=body, headers={"Content-Type": "application/json; charset=utf-8"}
    )
    assert reply.status == 201


def test_taken_usernames_and_emails_conflict(api: Api) -> None:
    user = api.sign_up()
    again = api.call(
        "POST", "/api/users", {"username": user.name, "email": "other@example.test", "password": PASSWORD}
    )
    assert again.status == 409 and again.json()["field"] == "username"
    same_email = api.call(
        "POST",
        "/api/users",
        {"username": unique_name(), "email": user.email.upper(), "password": PASSWORD},
    )
    assert same_email.status == 409 and same_email.json()["field"] == "email"
    # users and organisations share one namespace of names
    org = api.call("POST", "/api/orgs", {"name": user.name}, auth=user.password_auth)
    assert org.status == 409 and org.json()["field"] == "name"


def test_admin_fields_in_a_sign_up_are_ignored(api: Api) -> None:
    """CVE-2019-16097 (Harbor): self-registration must never create an administrator."""
    user = api.sign_up(
        is_admin=True, admin=True, has_admin_role=True, role="admin", kind="org", type="Org", id=1
    )
    me = api.call("GET", "/api/user", auth=user.password_auth).json()
    assert me["is_admin"] is False and me["type"] == "User" and me["id"] != 1
    # an administrator could push official images and read every private repository; not this one
    reply = api.token("repository:library/takeover:pull,push", auth=user.password_auth)
    assert reply.status == 200 and reply.json()["scope"] in ("", "repository:library/takeover:pull")


def test_repeated_failures_lock_the_account_for_a_while(api: Api) -> None:
    user, neighbour = api.sign_up(), api.sign_up()
    for _ in range(5):
        assert api.call("GET", "/api/user", auth=(user.name, "Wrong-pass1")).status == 401
    locked = api.call("GET", "/api/user", auth=user.password_auth)  # even the right password
    assert locked.status == 429 and 1 <= int(locked.headers["retry-after"]) <= 301
    assert "too many" in locked.json()["message"]
    assert api.token(auth=user.password_auth).status == 429
    # other accounts from the same address are not affected
    assert api.call("GET", "/api/user", auth=neighbour.password_auth).status == 200


# --------------------------------------------------------------------------- the caller's account


def test_password_change_then_only_the_new_password_works(api: Api) -> None:
    user = api.sign_up(pat=True)
    new = "N3w-password!"

    def change(old: str, new_password: str | None, creds: tuple[str, str]) -> Any:
        body = (
            {"old_password": old}
            if new_password is None
            else {"old_password": old, "new_password": new_password}
        )
        return api.call("PUT", "/api/user/password", body, auth=creds)

    by_token = change(user.password, new, (user.name, user.pat))
    assert by_token.status == 403 and "access tokens" in by_token.json()["message"]
    wrong_old = change("Wrong-pass1", new, user.password_auth)
    assert wrong_old.status == 403 and wrong_old.json()["field"] == "old_password"
    weak = change(user.password, "short", user.password_auth)
    assert weak.status == 400 and weak.json()["field"] == "new_password"
    missing = change(user.password, None, user.password_auth)
    assert missing.status == 400 and missing.json()["field"] == "new_password"

    assert change(user.password, new, user.password_auth).status == 204
    assert api.call("GET", "/api/user", auth=user.password_auth).status == 401
    assert api.token(auth=user.password_auth).status == 401
    assert api.token(auth=(user.name, new)).status == 200
    # access tokens outlive a password change (as on Docker Hub); revoke them to cut them off
    assert api.call("GET", "/api/user", auth=(user.name, user.pat)).status == 200


def test_deleting_an_account_needs_its_password_and_removes_everything(
    api: Api, token_hub: Hub, skopeo: Skopeo, small_image: OciImage
) -> None:
    user, other = api.sign_up(pat=True), api.sign_up(pat=True)
    push(skopeo, small_image, token_hub, f"{user.name}/app", user.pat_creds)
    assert api.call("GET", f"/api/repositories/{user.name}/app").status == 200

    by_token = api.call("DELETE", "/api/user", {"password": user.password}, auth=user.auth)
    assert by_token.status == 403
    no_body = api.call("DELETE", "/api/user", auth=user.password_auth)
    assert no_body.status == 400
    wrong = api.call("DELETE", "/api/user", {"password": "Wrong-pass1"}, auth=user.password_auth)
    assert wrong.status == 403 and wrong.json()["field"] == "password"

    assert api.call("DELETE", "/api/user", {"password": user.password}, auth=user.password_auth).status == 204
    assert api.call("GET", "/api/user", auth=user.password_auth).status == 401
    assert api.call("GET", "/api/user", auth=user.auth).status == 401  # its tokens went with it
    assert api.call("GET", f"/api/repositories/{user.name}/app").status == 404
    assert f"{user.name}/app" not in api.catalog(other.auth)


# --------------------------------------------------------------------------- organisations


def test_org_members_can_push_until_they_are_removed(
    api: Api, token_hub: Hub, skopeo: Skopeo, small_image: OciImage
) -> None:
    owner, member, outsider = api.sign_up(pat=True), api.sign_up(pat=True), api.sign_up(pat=True)
    org = unique_name("org")
    created = api.call("POST", "/api/orgs", {"name": org}, auth=owner.password_auth)
    assert created.status == 201 and created.json()["orgname"] == org
    by_token = api.call("POST", "/api/orgs", {"name": unique_name("org")}, auth=owner.auth)
    assert by_token.status == 403
    bad_name = api.call("POST", "/api/orgs", {"name": "Bad Name"}, auth=owner.password_auth)
    assert bad_name.status == 400 and bad_name.json()["field"] == "name"

    # an outsider can neither push nor see or change the membership
    assert not push(skopeo, small_image, token_hub, f"{org}/app", outsider.pat_creds, check=False)
    assert api.call("GET", f"/api/orgs/{org}/members", auth=outsider.auth).status == 404
    sneaky = api.call(
        "PUT", f"/api/orgs/{org}/members/{outsider.name}", {"role": "owner"}, auth=outsider.password_auth
    )
    assert sneaky.status == 404

    def put_member(name: str, role: str, creds: tuple[str, str] = owner.password_auth) -> Any:
        return api.call("PUT", f"/api/orgs/{org}/members/{name}", {"role": role}, auth=creds)

    bad_role = put_member(member.name, "admin")
    assert bad_role.status == 400 and bad_role.json()["field"] == "role"
    assert put_member(unique_name(), "member").status == 404
    added = put_member(member.name, "member")
    assert added.status == 200 and added.json() == {"username": member.name, "role": "member"}
    listed = api.call("GET", f"/api/orgs/{org}/members", auth=member.auth).json()
    assert sorted((m["username"], m["role"]) for m in listed["results"]) == sorted(
        [(owner.name, "owner"), (member.name, "member")]
    )

    # the member pushes with its password (skopeo --dest-creds user:password)
    push(skopeo, small_image, token_hub, f"{org}/app", member.creds)
    # members push, only owners manage: members, visibility
    assert put_member(outsider.name, "member", member.password_auth).status == 403
    hide = api.call("PATCH", f"/api/repositories/{org}/app", {"is_private": True}, auth=member.auth)
    assert hide.status == 403
    hidden = api.call("PATCH", f"/api/repositories/{org}/app", {"is_private": True}, auth=owner.auth)
    assert hidden.status == 200
    permissions = api.call("GET", f"/api/repositories/{org}/app", auth=member.auth).json()["permissions"]
    assert permissions == {"read": True, "write": True, "admin": False}

    # the last owner stays
    last = api.call("DELETE", f"/api/orgs/{org}/members/{owner.name}", auth=owner.password_auth)
    assert last.status == 400 and last.json()["field"] == "role"
    assert put_member(owner.name, "member").status == 400

    assert (
        api.call("DELETE", f"/api/orgs/{org}/members/{member.name}", auth=owner.password_auth).status == 204
    )
    assert (
        api.call("DELETE", f"/api/orgs/{org}/members/{member.name}", auth=owner.password_auth).status == 404
    )
    assert not push(skopeo, small_image, token_hub, f"{org}/other", member.pat_creds, check=False)
    # the organisation's private repository is gone for the former member
    assert api.call("GET", f"/api/repositories/{org}/app", auth=member.auth).status == 404
    assert f"{org}/app" not in api.catalog(member.auth)
    assert f"{org}/app" in api.catalog(owner.auth)


def test_a_second_owner_can_manage_alone(api: Api) -> None:
    first, second = api.sign_up(), api.sign_up()
    org = unique_name("org")
    assert api.call("POST", "/api/orgs", {"name": org}, auth=first.password_auth).status == 201
    put = api.call(
        "PUT", f"/api/orgs/{org}/members/{second.name}", {"role": "owner"}, auth=first.password_auth
    )
    assert put.status == 200
    # now the first owner may go: another owner remains
    assert (
        api.call("DELETE", f"/api/orgs/{org}/members/{first.name}", auth=second.password_auth).status == 204
    )
    members = api.call("GET", f"/api/orgs/{org}/members", auth=second.password_auth).json()
    assert members == {"count": 1, "results": [{"username": second.name, "role": "owner"}]}


# --------------------------------------------------------------------------- access tokens


def test_access_tokens_create_list_use_and_revoke(
    api: Api, token_hub: Hub, skopeo: Skopeo, small_image: OciImage
) -> None:
    user = api.sign_up()
    other = api.sign_up(pat=True)
    created = api.create_pat(user, "read", label="laptop")
    assert created["token"].startswith("cbpat_") and created["token_label"] == "laptop"
    assert created["scope"] == "read" and created["is_active"] is True and created["last_used"] is None
    pat = created["token"]
    writer = api.create_pat(user, "delete", label="ci")["token"]
    push(skopeo, small_image, token_hub, f"{user.name}/secret", f"{user.name}:{writer}")
    hidden = api.call(
        "PATCH", f"/api/repositories/{user.name}/secret", {"is_private": True}, auth=(user.name, writer)
    )
    assert hidden.json()["is_private"] is True

    listed = api.call("GET", "/api/access-tokens", auth=(user.name, writer)).json()
    assert listed["count"] == 2 and all("token" not in item for item in listed["results"])
    first = listed["results"][0]
    assert (
        first["uuid"] == created["uuid"] and first["last_used"] is None and first["token_label"] == "laptop"
    )

    # the PAT is a password for /token and for skopeo, limited to its scope
    assert api.token(auth=(user.name, pat)).status == 200
    assert api.granted(f"repository:{user.name}/secret:pull,push", (user.name, pat)) == (
        f"repository:{user.name}/secret:pull"
    )
    reference = f"docker://{token_hub.url}/{user.name}/secret:v1"
    inspected = skopeo("inspect", "--tls-verify=false", "--creds", f"{user.name}:{pat}", reference)
    assert small_image.digest in inspected.stdout
    assert not push(skopeo, small_image, token_hub, f"{user.name}/other", f"{user.name}:{pat}", check=False)
    # a token works for its own account only
    assert api.token(auth=(other.name, pat)).status == 401

    used = api.call("GET", "/api/access-tokens", auth=(user.name, writer)).json()["results"][0]
    assert used["last_used"] is not None and used["last_used"] >= created["created_at"]

    # tokens cannot make tokens; labels and scopes are checked
    assert (
        api.call("POST", "/api/access-tokens", {"token_label": "x"}, auth=(user.name, writer)).status == 403
    )
    empty = api.call(
        "POST", "/api/access-tokens", {"token_label": "", "scope": "read"}, auth=user.password_auth
    )
    assert empty.status == 400 and empty.json()["field"] == "token_label"
    scope = api.call(
        "POST", "/api/access-tokens", {"token_label": "a", "scope": "admin"}, auth=user.password_auth
    )
    assert scope.status == 400 and scope.json()["field"] == "scope"

    # someone else cannot revoke it; its owner can, once
    revoke = f"/api/access-tokens/{created['uuid']}"
    assert api.call("DELETE", revoke, auth=other.auth).status == 404
    assert api.call("DELETE", revoke, auth=(user.name, writer)).status == 204
    assert api.call("DELETE", revoke, auth=(user.name, writer)).status == 404
    after = api.call("GET", "/api/access-tokens", auth=(user.name, writer)).json()["results"]
    assert [t["is_active"] for t in after] == [False, True]
    assert api.token(auth=(user.name, pat)).status == 401
    refused = skopeo("inspect", "--tls-verify=false", "--creds", f"{user.name}:{pat}", reference, check=False)
    assert refused.returncode != 0


# --------------------------------------------------------------------------- repositories


def test_private_repositories_look_missing_to_others(
    api: Api, token_hub: Hub, skopeo: Skopeo, small_image: OciImage
) -> None:
    owner, other = api.sign_up(pat=True), api.sign_up(pat=True)
    name = f"{owner.name}/app"
    push(skopeo, small_image, token_hub, name, owner.pat_creds)

    public = api.call("GET", f"/api/repositories/{name}")
    assert public.status == 200, public
    shown_fields = ("namespace", "name", "repository_type", "is_private", "permissions")
    assert {key: public.json()[key] for key in shown_fields} == {
        "namespace": owner.name,
        "name": "app",
        "repository_type": "image",
        "is_private": False,
        "permissions": {"read": True, "write": False, "admin": False},
    }  # the rest of the repository page is tested in tests/api/
    mine = api.call("GET", f"/api/repositories/{name}", auth=owner.auth).json()
    assert mine["permissions"] == {"read": True, "write": True, "admin": True}
    assert name in api.catalog(other.auth)

    def patch(private: Any, creds: tuple[str, str] | None) -> Any:
        return api.call("PATCH", f"/api/repositories/{name}", {"is_private": private}, auth=creds)

    assert patch(True, other.auth).status == 403
    assert patch(True, None).status == 401
    bad = patch("yes", owner.auth)
    assert bad.status == 400 and bad.json()["field"] == "is_private"
    read_write = api.create_pat(owner, "read-write")["token"]
    assert patch(True, (owner.name, read_write)).status == 403  # changing settings needs the delete scope
    hidden = patch(True, owner.auth)
    assert hidden.status == 200 and hidden.json()["is_private"] is True

    missing = api.call("GET", f"/api/repositories/{owner.name}/never-pushed")
    assert (missing.status, missing.body) == (404, b'{"message": "repository not found"}')
    for caller in (None, other.auth):
        answer = api.call("GET", f"/api/repositories/{name}", auth=caller)
        assert (answer.status, answer.body) == (missing.status, missing.body)
    # others cannot even tell it exists by trying to change it
    assert patch(False, other.auth).status == 404
    assert name not in api.catalog(other.auth)
    assert name in api.catalog(owner.auth)
    anonymous = skopeo("inspect", "--tls-verify=false", f"docker://{token_hub.url}/{name}:v1", check=False)
    assert anonymous.returncode != 0

    shown = patch(False, owner.auth)
    assert shown.status == 200 and shown.json()["is_private"] is False
    assert api.call("GET", f"/api/repositories/{name}").status == 200
    assert name in api.catalog(other.auth)


def test_a_read_write_token_pushes_but_cannot_delete(
    api: Api, token_hub: Hub, skopeo: Skopeo, small_image: OciImage
) -> None:
    user = api.sign_up()
    pat = api.create_pat(user, "read-write")["token"]
    push(skopeo, small_image, token_hub, f"{user.name}/viatoken", f"{user.name}:{pat}")
    assert api.granted(f"repository:{user.name}/viatoken:delete", (user.name, pat)) == ""


# --------------------------------------------------------------------------- the API itself


def test_unknown_paths_and_methods_answer_json(api: Api) -> None:
    missing = api.call("GET", "/api/no-such-thing")
    assert missing.status == 404 and missing.json() == {"message": "not found"}
    wrong_method = api.call("PATCH", "/api/users", {})
    assert (
        wrong_method.status == 405
        and wrong_method.headers["allow"] == "POST"
        and wrong_method.json()["message"]
    )


def test_openapi_document_lists_the_endpoints(api: Api) -> None:
    reply = api.call("GET", "/api/openapi.json")
    assert reply.status == 200 and reply.headers["content-type"].startswith("application/json")
    doc = reply.json()
    assert doc["openapi"].startswith("3.")
    operations = {(path, method) for path, item in doc["paths"].items() for method in item}
    assert operations == {
        ("/api/users", "post"),
        ("/api/user", "get"),
        ("/api/user", "delete"),
        ("/api/user/password", "put"),
        ("/api/orgs", "post"),
        ("/api/orgs/{org}/members", "get"),
        ("/api/orgs/{org}/members/{username}", "put"),
        ("/api/orgs/{org}/members/{username}", "delete"),
        ("/api/access-tokens", "post"),
        ("/api/access-tokens", "get"),
        ("/api/access-tokens/{uuid}", "delete"),
        ("/api/repositories/{namespace}/{repo}", "get"),
        ("/api/repositories/{namespace}/{repo}", "patch"),
        ("/api/openapi.json", "get"),
    } | {  # repositories, tags and stars: tests/api/test_openapi_schemathesis.py drives them
        ("/api/repositories/{namespace}", "get"),
        ("/api/repositories/{namespace}/{repo}", "delete"),
        ("/api/repositories/{namespace}/{repo}/tags", "get"),
        ("/api/repositories/{namespace}/{repo}/tags/{tag}", "get"),
        ("/api/repositories/{namespace}/{repo}/tags/{tag}", "delete"),
        ("/api/repositories/{namespace}/{repo}/star", "put"),
        ("/api/repositories/{namespace}/{repo}/star", "delete"),
        ("/api/user/starred", "get"),
    }
    refs = {value for value in _walk(doc) if isinstance(value, str) and value.startswith("#/")}
    for ref in refs:
        assert ref.removeprefix("#/components/schemas/") in doc["components"]["schemas"], ref


def test_openapi_document_is_valid_and_matches_the_answers(api: Api) -> None:
    import openapi_schema_validator as schemas
    import openapi_spec_validator as validator

    doc = api.call("GET", "/api/openapi.json").json()
    validator.validate(doc)

    def check(instance: Any, name: str) -> None:
        schema = {"$ref": f"#/components/schemas/{name}", "components": doc["components"]}
        schemas.validate(instance, schema, cls=schemas.OAS30Validator)

    user = api.sign_up()
    check(api.call("GET", "/api/user", auth=user.password_auth).json(), "User")
    created = api.create_pat(user, "delete")
    check(created, "AccessToken")
    pat = (user.name, created["token"])
    check(api.call("GET", "/api/access-tokens", auth=pat).json(), "AccessTokenList")
    org = api.call("POST", "/api/orgs", {"name": unique_name("org")}, auth=user.password_auth).json()
    check(org, "Org")
    check(api.call("GET", f"/api/orgs/{org['orgname']}/members", auth=pat).json(), "MemberList")
    check(api.call("GET", f"/api/repositories/{user.name}/none", auth=pat).json(), "Error")
    check(api.call("POST", "/api/users", {"username": "x"}).json(), "Error")


def _walk(node: Any) -> Any:
    if isinstance(node, dict):
        for value in node.values():
            yield value
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


@pytest.mark.postgres
def test_text_no_database_can_store_is_refused_not_a_crash(
    start_hub: Callable[..., Hub], new_postgres_url: Callable[[], str]
) -> None:
    """NUL characters (PostgreSQL refuses them) and lone surrogates (not UTF-8) in bodies, paths
    and credentials are client errors, never a 500."""
    hub = start_hub(workers=1, database_url=new_postgres_url(), env={"CARGOBAY_AUTH": "token"})
    api = Api(hub.url)
    user = api.sign_up()
    for bad in ("a\x00b", "a\ud800b"):
        for field in ("username", "email", "password"):
            body = {"username": unique_name(), "email": "x@example.test", "password": PASSWORD, field: bad}
            raw = json.dumps(body).encode()  # json.dumps escapes the surrogate as \ud800
            reply = api.call("POST", "/api/users", raw=raw, headers={"Content-Type": "application/json"})
            assert reply.status == 400 and reply.json()["field"] == field, reply
        label = json.dumps({"token_label": bad, "scope": "read"}).encode()
        reply = api.call(
            "POST",
            "/api/access-tokens",
            raw=label,
            headers={"Content-Type": "application/json"},
            auth=user.password_auth,
        )
        assert reply.status == 400 and reply.json()["field"] == "token_label", reply
    for method, path in (
        ("GET", "/api/orgs/a%00b/members"),
        ("DELETE", "/api/orgs/abcd/members/a%00b"),
        ("GET", "/api/repositories/a%00b/app"),
        ("GET", "/api/repositories/abcd/a%00b"),
        ("DELETE", "/api/access-tokens/a%00b"),
    ):
        reply = api.call(method, path, auth=user.password_auth)
        assert reply.status == 404, (path, reply)
    assert api.call("GET", "/api/user", auth=("a\x00b", PASSWORD)).status == 401
    assert api.call("GET", "/api/user", auth=(user.name, "pass\x00word")).status == 401
