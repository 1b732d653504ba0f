"""`default_visibility: private` makes new repositories private; answers do not reveal
which accounts exist by their timing."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from authhub import add_user, basic, get_token, push_image

from support.http import request
from support.servers import Hub


def test_private_by_default_when_configured(start_hub: Callable[..., Hub]) -> None:
    hub = start_hub(env={"CARGOBAY_AUTH": "token", "CARGOBAY_DEFAULT_VISIBILITY": "private"}, workers=1)
    add_user(hub, "alice")
    add_user(hub, "bobby")
    push_image(hub, "alice/app", basic("alice"))
    assert request("GET", f"{hub.base_url}/v2/alice/app/manifests/v1", headers=basic("alice")).status == 200
    assert request("GET", f"{hub.base_url}/v2/alice/app/manifests/v1", headers=basic("bobby")).status == 404
    assert request("GET", f"{hub.base_url}/v2/alice/app/manifests/v1").status == 401


def test_public_by_default(start_hub: Callable[..., Hub]) -> None:
    hub = start_hub(env={"CARGOBAY_AUTH": "token"}, workers=1)
    add_user(hub, "alice")
    push_image(hub, "alice/app", basic("alice"))
    assert request("GET", f"{hub.base_url}/v2/alice/app/manifests/v1").status == 200


def test_unknown_users_cost_as_much_as_wrong_passwords(start_hub: Callable[..., Hub]) -> None:
    hub = start_hub(env={"CARGOBAY_AUTH": "token"}, workers=1)
    add_user(hub, "alice")

    def median_seconds(user: str) -> float:
        samples = []
        for _ in range(4):
            started = time.perf_counter()
            assert get_token(hub, user=user, password="wrong-password1").status == 401
            samples.append(time.perf_counter() - started)
        return statistics.median(samples)

    known, unknown = median_seconds("alice"), median_seconds("nosuchuser")
    # Both run one argon2 verification; without the dummy hash the unknown user answers ~50x faster.
    assert unknown > known / 3, (known, unknown)
