"""Token auth on the registry API: challenges, grants, namespaces, private repositories that look
missing to outsiders, and the attacks a token service must refuse."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from authhub import (
    PASSWORD,
    add_user,
    basic,
    bearer,
    get_token,
    granted,
    push_image,
    run_with_hub,
    set_private,
    token_for,
)

from cargobay.registry.scopes import Scope
from support.http import request
from support.servers import Hub


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from support.servers import start_hub

    handle = start_hub(tmp_path_factory.mktemp("authhub"), env={"CARGOBAY_AUTH": "token"})
    add_user(handle, "alice")
    add_user(handle, "bobby")
    add_user(handle, "rooty", admin=True)
    yield handle
    handle.close()


def _challenge(answer: Any) -> dict[str, str]:
    header = answer.header("WWW-Authenticate") or ""
    assert header.startswith("Bearer "), header
    return dict(re.findall(r'(\w+)="([^"]*)"', header))


def test_v2_asks_anonymous_callers_to_authenticate(hub: Hub) -> None:
    answer = request("GET", f"{hub.base_url}/v2/")
    assert answer.status == 401
    assert json.loads(answer.body)["errors"][0]["code"] == "UNAUTHORIZED"
    assert _challenge(answer) == {"realm": f"{hub.base_url}/token", "service": "cargobay"}
    assert request("GET", f"{hub.base_url}/v2/", headers=basic("alice")).status == 200
    assert request("GET", f"{hub.base_url}/v2/", headers=bearer(token_for(hub, user="alice"))).status == 200


def test_owner_pushes_and_anyone_pulls_a_public_repository(hub: Hub) -> None:
    token = token_for(hub, "repository:alice/app:pull,push", user="alice")
    assert granted(token) == [{"type": "repository", "name": "alice/app", "actions": ["pull", "push"]}]
    pushed = push_image(hub, "alice/app", bearer(token))
    # Anonymous pull of public content needs no token at all.
    answer = request("GET", f"{hub.base_url}/v2/alice/app/manifests/v1")
    assert answer.status == 200 and answer.body == pushed.manifest
    anonymous = token_for(hub, "repository:alice/app:pull,push")
    assert granted(anonymous) == [{"type": "repository", "name": "alice/app", "actions": ["pull"]}]


def test_pushing_needs_credentials_and_the_namespace(hub: Hub) -> None:
    answer = request("POST", f"{hub.base_url}/v2/alice/anon/blobs/uploads/")
    assert answer.status == 401
    assert _challenge(answer)["scope"] == "repository:alice/anon:pull,push"
    # bobby is authenticated but alice/ is not his namespace: 403 DENIED, and no push in his token.
    assert granted(token_for(hub, "repository:alice/app:push", user="bobby")) == []
    answer = request("POST", f"{hub.base_url}/v2/alice/app/blobs/uploads/", headers=basic("bobby"))
    assert answer.status == 403
    assert json.loads(answer.body)["errors"][0]["code"] == "DENIED"
    push_image(hub, "bobby/own", basic("bobby"))


def test_library_is_for_admins_and_single_names_mean_library(hub: Hub) -> None:
    answer = request("POST", f"{hub.base_url}/v2/library/ubuntu/blobs/uploads/", headers=basic("alice"))
    assert answer.status == 403
    admin_token = token_for(hub, "repository:ubuntu:pull,push", user="rooty")
    assert granted(admin_token) == [
        {"type": "repository", "name": "library/ubuntu", "actions": ["pull", "push"]}
    ]
    pushed = push_image(hub, "ubuntu", bearer(admin_token))
    answer = request("GET", f"{hub.base_url}/v2/library/ubuntu/manifests/v1")
    assert answer.status == 200 and answer.body == pushed.manifest
    assert (
        request("GET", f"{hub.base_url}/v2/ubuntu/tags/list").body
        == b'{"name": "library/ubuntu", "tags": ["v1"]}'
    )


def _same_as_missing(hub: Hub, path_private: str, path_missing: str, headers: dict[str, str]) -> None:
    hidden = request("GET", f"{hub.base_url}{path_private}", headers=headers)
    missing = request("GET", f"{hub.base_url}{path_missing}", headers=headers)
    assert hidden.status == missing.status
    assert hidden.body.replace(b"alice/secret", b"X") == missing.body.replace(b"alice/nothing", b"X")
    assert (
        hidden.header("WWW-Authenticate")
        == (missing.header("WWW-Authenticate") or "").replace("alice/nothing", "alice/secret")
        or hidden.header("WWW-Authenticate") is None
    )


def test_private_repositories_look_missing_to_outsiders(hub: Hub) -> None:
    pushed = push_image(hub, "alice/secret", basic("alice"), seed=b"s")
    set_private(hub, "alice/secret")
    for suffix in ("manifests/v1", f"manifests/{pushed.digest}", f"blobs/{pushed.layer_digest}", "tags/list"):
        # anonymous: a challenge, exactly as for a repository that does not exist
        _same_as_missing(hub, f"/v2/alice/secret/{suffix}", f"/v2/alice/nothing/{suffix}", {})
        # bobby with a token (he is granted pull, as for any missing repository): 404 either way
        scopes = ("repository:alice/secret:pull",)
        hidden_token = token_for(hub, *scopes, user="bobby")
        missing_token = token_for(hub, "repository:alice/nothing:pull", user="bobby")
        hidden = request("GET", f"{hub.base_url}/v2/alice/secret/{suffix}", headers=bearer(hidden_token))
        missing = request("GET", f"{hub.base_url}/v2/alice/nothing/{suffix}", headers=bearer(missing_token))
        assert hidden.status == missing.status == 404
        assert hidden.body.replace(b"alice/secret", b"X") == missing.body.replace(b"alice/nothing", b"X")
        # Basic credentials, too
        _same_as_missing(hub, f"/v2/alice/secret/{suffix}", f"/v2/alice/nothing/{suffix}", basic("bobby"))
    # The owner still reads it.
    answer = request("GET", f"{hub.base_url}/v2/alice/secret/manifests/v1", headers=basic("alice"))
    assert answer.status == 200 and answer.body == pushed.manifest
    referrers = request(
        "GET", f"{hub.base_url}/v2/alice/secret/referrers/{pushed.digest}", headers=basic("bobby")
    )
    assert json.loads(referrers.body)["manifests"] == []


def test_catalog_lists_private_repositories_only_to_those_who_may_see_them(hub: Hub) -> None:
    push_image(hub, "alice/hidden-two", basic("alice"), seed=b"h")
    set_private(hub, "alice/hidden-two")
    push_image(hub, "alice/shown", basic("alice"), seed=b"p")
    assert request("GET", f"{hub.base_url}/v2/_catalog").status == 401
    as_bobby = json.loads(request("GET", f"{hub.base_url}/v2/_catalog", headers=basic("bobby")).body)
    as_alice = json.loads(request("GET", f"{hub.base_url}/v2/_catalog", headers=basic("alice")).body)
    as_admin = json.loads(request("GET", f"{hub.base_url}/v2/_catalog", headers=basic("rooty")).body)
    assert "alice/hidden-two" not in as_bobby["repositories"]
    assert "alice/hidden-two" in as_alice["repositories"]
    assert "alice/hidden-two" in as_admin["repositories"]
    anonymous = token_for(hub, "registry:catalog:*")
    listed = json.loads(request("GET", f"{hub.base_url}/v2/_catalog", headers=bearer(anonymous)).body)
    assert "alice/hidden-two" not in listed["repositories"]
    assert "alice/shown" in listed["repositories"]


def test_mount_only_from_a_readable_repository(hub: Hub) -> None:
    pushed = push_image(hub, "alice/mountsrc", basic("alice"), seed=b"m")
    set_private(hub, "alice/mountsrc")
    stolen = request(
        "POST",
        f"{hub.base_url}/v2/bobby/loot/blobs/uploads/?mount={pushed.layer_digest}&from=alice/mountsrc",
        headers=basic("bobby"),
    )
    assert stolen.status == 202  # a new upload session, never the blob
    assert (
        request(
            "HEAD", f"{hub.base_url}/v2/bobby/loot/blobs/{pushed.layer_digest}", headers=basic("bobby")
        ).status
        == 404
    )
    mounted = request(
        "POST",
        f"{hub.base_url}/v2/alice/copy/blobs/uploads/?mount={pushed.layer_digest}&from=alice/mountsrc",
        headers=basic("alice"),
    )
    assert mounted.status == 201


def test_token_for_one_repository_does_not_open_another(hub: Hub) -> None:
    push_image(hub, "alice/one", basic("alice"), seed=b"1")
    token = token_for(hub, "repository:alice/one:pull,push", user="alice")
    answer = request("POST", f"{hub.base_url}/v2/alice/two/blobs/uploads/", headers=bearer(token))
    assert answer.status == 401
    assert _challenge(answer)["error"] == "insufficient_scope"
    pull_only = token_for(hub, "repository:alice/one:pull", user="alice")
    answer = request("DELETE", f"{hub.base_url}/v2/alice/one/manifests/v1", headers=bearer(pull_only))
    assert answer.status == 401 and _challenge(answer)["error"] == "insufficient_scope"


@pytest.mark.parametrize(
    "forge",
    [
        lambda t: t[:-4] + ("AAAA" if not t.endswith("AAAA") else "BBBB"),  # bad signature
        lambda t: "x.y.z",
        lambda t: jwt.encode(
            {"sub": "alice", "access": []}, "a-secret-long-enough-for-hs256-keys!", algorithm="HS256"
        ),
        lambda t: ".".join(["eyJhbGciOiJub25lIn0", t.split(".")[1], ""]),  # alg none
    ],
)
def test_forged_tokens_are_invalid(hub: Hub, forge: Callable[[str], str]) -> None:
    token = token_for(hub, "repository:alice/app:pull,push", user="alice")
    answer = request("POST", f"{hub.base_url}/v2/alice/app/blobs/uploads/", headers=bearer(forge(token)))
    assert answer.status == 401
    assert _challenge(answer)["error"] == "invalid_token"


def test_expired_tokens_are_invalid(hub: Hub) -> None:
    def issue_old(services: Any) -> str:
        token, _, _ = services.issuer.issue(
            "alice", [Scope("repository", "alice/app", frozenset({"pull", "push"}))], now=time.time() - 3600
        )
        return str(token)

    old = run_with_hub(hub, lambda services: _async(issue_old(services)))
    answer = request("POST", f"{hub.base_url}/v2/alice/app/blobs/uploads/", headers=bearer(old))
    assert answer.status == 401 and _challenge(answer)["error"] == "invalid_token"


async def _async(value: Any) -> Any:
    return value


def test_wrong_password_unknown_user_and_malformed_scopes(hub: Hub) -> None:
    for user, password in (("alice", "wrong-password1"), ("nobody99", PASSWORD)):
        answer = get_token(hub, "repository:alice/app:pull", user=user, password=password)
        assert answer.status == 401
        assert json.loads(answer.body)["errors"][0]["message"] == "incorrect username or password"
    for scope in (
        "repository:alice/app",
        "repository:ALICE/app:pull",
        "repository:alice/app:fly",
        "team:x:pull",
    ):
        assert get_token(hub, scope, user="alice").status == 400
    # Asking for "*" grants only what the caller may do.
    assert granted(token_for(hub, "repository:alice/app:*", user="bobby")) == [
        {"type": "repository", "name": "alice/app", "actions": ["pull"]}
    ]
    assert get_token(hub, "repository:alice/app:pull", service="elsewhere").status == 400


def test_failed_logins_are_rate_limited(start_hub: Callable[..., Hub]) -> None:
    hub = start_hub(env={"CARGOBAY_AUTH": "token"}, workers=1)
    add_user(hub, "carol")
    for _ in range(5):
        assert get_token(hub, user="carol", password="wrong-password1").status == 401
    limited = get_token(hub, user="carol", password=PASSWORD)
    assert limited.status == 429
    assert int(limited.header("Retry-After") or "0") > 0
    assert json.loads(limited.body)["errors"][0]["code"] == "TOOMANYREQUESTS"


def test_refresh_tokens_from_login_mint_access_tokens(hub: Hub) -> None:
    answer = get_token(hub, user="alice", offline_token="true", client_id="docker")
    refresh = json.loads(answer.body)["refresh_token"]
    minted = request(
        "POST",
        f"{hub.base_url}/token",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        data=f"grant_type=refresh_token&service=cargobay&client_id=docker&scope=repository:alice/app:push&refresh_token={refresh}".encode(),
    )
    assert minted.status == 200, minted.body
    assert granted(json.loads(minted.body)["access_token"])[0]["actions"] == ["push"]
    bad = request(
        "POST",
        f"{hub.base_url}/token",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        data=b"grant_type=refresh_token&service=cargobay&refresh_token=nonsense",
    )
    assert bad.status == 401 and json.loads(bad.body)["error"] == "invalid_grant"
    password = request(
        "POST",
        f"{hub.base_url}/token",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        data=f"grant_type=password&service=cargobay&username=alice&password={PASSWORD}&access_type=offline".encode(),
    )
    assert password.status == 200 and "refresh_token" in json.loads(password.body)
    # An access token is not a refresh token.
    access = token_for(hub, user="alice")
    reused = request(
        "POST",
        f"{hub.base_url}/token",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        data=f"grant_type=refresh_token&service=cargobay&refresh_token={access}".encode(),
    )
    assert reused.status == 401


def test_removed_org_member_loses_push_mid_session(hub: Hub) -> None:
    async def make_org(services: Any) -> None:
        alice = await services.accounts.actor_for("alice")
        await services.accounts.create_org(alice, "teamx")
        await services.accounts.set_member(alice, "teamx", "bobby", "member")

    run_with_hub(hub, make_org)
    token = token_for(hub, "repository:teamx/app:pull,push", user="bobby")
    assert granted(token)[0]["actions"] == ["pull", "push"]
    push_image(hub, "teamx/app", bearer(token), seed=b"o")

    async def remove(services: Any) -> None:
        alice = await services.accounts.actor_for("alice")
        await services.accounts.remove_member(alice, "teamx", "bobby")

    run_with_hub(hub, remove)
    answer = request("POST", f"{hub.base_url}/v2/teamx/app/blobs/uploads/", headers=bearer(token))
    assert answer.status == 403  # the token is still valid, the membership is not


def test_password_change_ends_refresh_tokens_and_deleted_names_stay_retired(
    start_hub: Callable[..., Hub],
) -> None:
    hub = start_hub(env={"CARGOBAY_AUTH": "token"}, workers=1)
    add_user(hub, "dave")
    refresh = json.loads(get_token(hub, user="dave", offline_token="true", client_id="x").body)[
        "refresh_token"
    ]
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    body = f"grant_type=refresh_token&service=cargobay&refresh_token={refresh}".encode()
    assert request("POST", f"{hub.base_url}/token", headers=form, data=body).status == 200
    time.sleep(1.1)  # the change must come after the refresh token's issue second

    async def change(services: Any) -> None:
        await services.accounts.set_password("dave", "An0ther-secret")

    run_with_hub(hub, change)
    assert request("POST", f"{hub.base_url}/token", headers=form, data=body).status == 401

    async def delete_and_reuse(services: Any) -> str:
        dave = await services.accounts.actor_for("dave")
        await services.accounts.delete_account(dave, "An0ther-secret")
        try:
            await services.accounts.sign_up("dave", "new-dave@example.com", PASSWORD)
        except Exception as exc:
            return str(exc)
        return "reused"

    assert run_with_hub(hub, delete_and_reuse) == "this username is taken"


def test_a_locked_account_still_accepts_its_access_tokens(start_hub: Callable[..., Hub]) -> None:
    hub = start_hub(env={"CARGOBAY_AUTH": "token"}, workers=1)
    add_user(hub, "erin")

    async def make_token(services: Any) -> str:
        erin = await services.accounts.actor_for("erin")
        return str((await services.accounts.create_token(erin, "ci", "read")).secret)

    secret = run_with_hub(hub, make_token)
    for _ in range(5):
        assert get_token(hub, user="erin", password="wrong-password1").status == 401
    assert get_token(hub, user="erin", password=PASSWORD).status == 429
    assert get_token(hub, user="erin", password=secret).status == 200
