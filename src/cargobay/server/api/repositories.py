"""`/api/repositories/{namespace}/{repo}`: a repository's settings (visibility for now).

A private repository the caller may not read is answered exactly like a missing one (404).
Repositories are created by their first push, never here.
"""

from __future__ import annotations

from aiohttp import web

from cargobay.metadata.store import MetadataStore
from cargobay.registry.access import Access, AccessPolicy
from cargobay.registry.accounts import Actor
from cargobay.server.api.errors import ApiError, bool_field, json_body, path_param
from cargobay.server.api.session import ApiAuth

_NOT_FOUND = "repository not found"


class RepositoriesApi:
    def __init__(self, metadata: MetadataStore, policy: AccessPolicy, auth: ApiAuth) -> None:
        self.metadata = metadata
        self.policy = policy
        self.auth = auth

    def add_routes(self, app: web.Application) -> None:
        path = "/repositories/{namespace}/{repo:.+}"
        app.router.add_get(path, self.get)
        app.router.add_patch(path, self.patch)

    async def _find(self, request: web.Request, actor: Actor | None) -> tuple[str, str, Access]:
        namespace = path_param(request, "namespace", _NOT_FOUND)
        repo = path_param(request, "repo", _NOT_FOUND).rstrip("/")
        access = await self.policy.check(actor, f"{namespace}/{repo}")
        if not (access.exists and access.visible):
            raise ApiError(404, _NOT_FOUND)
        return namespace, repo, access

    async def _body(self, namespace: str, repo: str, access: Access) -> dict[str, object]:
        private = await self.metadata.repository_private(f"{namespace}/{repo}")
        if private is None:  # deleted meanwhile
            raise ApiError(404, _NOT_FOUND)
        return {
            "namespace": namespace,
            "name": repo,
            "repository_type": "image",
            "is_private": private,
            "permissions": {
                "read": "pull" in access.actions,
                "write": "push" in access.actions,
                "admin": "delete" in access.actions,
            },
        }

    async def get(self, request: web.Request) -> web.Response:
        actor = await self.auth.optional(request)
        namespace, repo, access = await self._find(request, actor)
        return web.json_response(await self._body(namespace, repo, access))

    async def patch(self, request: web.Request) -> web.Response:
        actor = await self.auth.required(request)
        namespace, repo, access = await self._find(request, actor)
        # Owners of the namespace (the user, an organisation's owners) and admins hold "delete";
        # a personal access token needs the delete scope too.
        if "delete" not in access.actions:
            raise ApiError(403, "only owners of the namespace can change a repository's settings")
        body = await json_body(request)
        private = bool_field(body, "is_private")
        if not await self.metadata.set_repository_private(f"{namespace}/{repo}", private):
            raise ApiError(404, _NOT_FOUND)
        return web.json_response(await self._body(namespace, repo, access))
