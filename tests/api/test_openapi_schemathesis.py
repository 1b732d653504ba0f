"""Schemathesis drives every operation of `/api/openapi.json` against a live hub with token auth.

Each operation gets a bounded number of generated requests, from the document's schemas
(positive) and against them (negative), as a signed-in user with a delete-scope access token:
  - once with every parameter generated (mostly names that do not exist);
  - once with the namespace and repository fixed to a real pushed repository (or the user's
    organisation), so that tag names, queries and bodies are checked against real data.
Then a few fixed requests whose answers must match the document: a namespace's list, a
repository's page, its tag list and tags (an image and an index), the starred list.

Checks on every answer: no 5xx, a status the document lists, the declared content type, the
declared headers, a body matching the response schema; for negative cases also that the hub
refuses what the document rules out.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip(
    "schemathesis",
    reason="schemathesis is not installed (pip install schemathesis==4.32.5) — the OpenAPI fuzz test is skipped",
)

from apiclient import Api, basic  # noqa: E402
from hubapi import ok, push  # noqa: E402
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from support.images import OciImage  # noqa: E402
from support.servers import Hub  # noqa: E402
from support.tools import Skopeo  # noqa: E402

EXAMPLES = 8  # per operation and per round; the whole test stays well under a minute
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
NEGATIVE_CHECKS = [*CHECKS, negative_data_rejection]


def _run(
    operation: Any,
    mode: Any,
    base_url: str,
    headers: dict[str, str],
    path_parameters: dict[str, str] | None,
) -> None:
    checks = NEGATIVE_CHECKS if mode == schemathesis.GenerationMode.NEGATIVE else CHECKS
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        case.call_and_validate(base_url=base_url, headers=headers, checks=checks, timeout=30)

    try:
        run()
    except Unsatisfiable:
        # Nothing in the operation can be made invalid (no parameters, no body constraints).
        if mode != schemathesis.GenerationMode.NEGATIVE:
            raise


def test_every_operation_conforms_to_the_openapi_document(
    api_hub: Hub,
    skopeo: Skopeo,
    make_oci_image: Callable[..., OciImage],
    tmp_path: Path,
) -> None:
    hub = api_hub  # shared with the other API tests: everything here happens to a user of its own
    api = Api(hub.url)
    user = api.sign_up(pat=True)
    headers = basic(user.name, user.pat)
    repository = f"{user.name}/fuzzed"
    push(api, hub, user, repository, tag="v1")
    push(api, hub, user, repository, tag="v2", seed=b"2")
    image = make_oci_image(tmp_path, layers=1, layer_size=300, platforms=["linux/amd64", "linux/arm64/v8"])
    skopeo(
        "copy",
        "--all",
        "--dest-tls-verify=false",
        "--dest-creds",
        user.pat_creds,
        image.ref,
        f"docker://{hub.url}/{repository}:multi",
    )
    org = f"org{user.name}"[:30]
    ok(api.call("POST", "/api/orgs", {"name": org}, auth=user.password_auth), 201)
    assert api.call("PUT", f"/api/repositories/{repository}/star", auth=user.auth).status == 204

    schema = schemathesis.openapi.from_url(f"{hub.base_url}/api/openapi.json")
    schema.validate()
    # Every request carries the user's credentials (below): schemathesis is not to generate or
    # leave out an Authorization header of its own, which negative cases would count as invalid.
    schema.config.generation.update(with_security_parameters=False)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 21
    # Deleting the repository or the account would leave later rounds nothing real to test.
    destructive = {("DELETE", "/api/repositories/{namespace}/{repo}"), ("DELETE", "/api/user")}
    real = {"namespace": user.name, "repo": "fuzzed", "org": org, "username": user.name}

    for operation in operations:
        key = (operation.method.upper(), operation.path)
        names = {p.name for p in operation.path_parameters}
        fixed = {name: real[name] for name in names if name in real}
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            _run(operation, mode, hub.base_url, headers, None)
            if fixed and key not in destructive:
                _run(operation, mode, hub.base_url, headers, fixed)

    # Answers about real data, each checked against the document.
    def check(label: str, **parts: Any) -> None:
        found = schema.find_operation_by_label(label)
        assert found is not None, label
        case = found.Case(**parts)
        response = case.call_and_validate(base_url=hub.base_url, headers=headers, checks=CHECKS)
        assert response.status_code in (200, 204), (label, response.status_code, response.text[:300])

    repo = {"namespace": user.name, "repo": "fuzzed"}
    check("GET /api/repositories/{namespace}", path_parameters={"namespace": user.name})
    check("GET /api/repositories/{namespace}/{repo}", path_parameters=repo)
    check("GET /api/repositories/{namespace}/{repo}/tags", path_parameters=repo, query={"page_size": 2})
    check("GET /api/repositories/{namespace}/{repo}/tags/{tag}", path_parameters={**repo, "tag": "multi"})
    check("GET /api/repositories/{namespace}/{repo}/tags/{tag}", path_parameters={**repo, "tag": "v2"})
    check("GET /api/user/starred", query={"page_size": 1})
    check("PATCH /api/repositories/{namespace}/{repo}", path_parameters=repo, body={"description": "fuzzed"})
    check("DELETE /api/repositories/{namespace}/{repo}", path_parameters=repo)
