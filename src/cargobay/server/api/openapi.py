"""The OpenAPI 3 description of the hub's JSON API, served at `/api/openapi.json`.

Hand-written: keep it in step with the handlers in this package (the API tests compare the
two, and schemathesis drives the API from this document).
"""

from __future__ import annotations

from typing import Any

_ERROR_REF = {"$ref": "#/components/schemas/Error"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response = _json(_ERROR_REF, description)
    if headers:
        response["headers"] = headers
    return response


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _object(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


_UNAUTHORIZED = _error(
    "Missing or wrong credentials",
    {"WWW-Authenticate": {"schema": {"type": "string"}, "description": 'Basic realm="cargobay"'}},
)
_THROTTLED = _error(
    "Too many failed logins for this account or address",
    {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait"}},
)
_AUTH_ERRORS = {"401": _UNAUTHORIZED, "429": _THROTTLED}
_NAME = {"type": "string", "pattern": "^[a-z0-9]{4,30}$"}
_TIME = {"type": "string", "format": "date-time"}
_NULLABLE_TIME = {"type": "string", "format": "date-time", "nullable": True}

_PAGE_LINK = {"type": "string", "nullable": True, "description": "Absolute URL of a page, or null"}


def _page_of(item: dict[str, Any]) -> dict[str, Any]:
    return _object(
        ["count", "next", "previous", "results"],
        {
            "count": {"type": "integer", "minimum": 0, "description": "Results in all pages"},
            "next": _PAGE_LINK,
            "previous": _PAGE_LINK,
            "results": {"type": "array", "items": item},
        },
    )


_SUMMARY_FIELDS: dict[str, Any] = {
    "name": {"type": "string"},
    "namespace": {"type": "string"},
    "repository_type": {"type": "string", "enum": ["image"]},
    "description": {"type": "string", "maxLength": 100},
    "is_private": {"type": "boolean"},
    "is_official": {"type": "boolean", "description": "In the library namespace"},
    "star_count": {"type": "integer", "minimum": 0},
    "pull_count": {"type": "integer", "minimum": 0},
    "last_updated": {**_NULLABLE_TIME, "description": "Last push; null if never pushed"},
    "date_registered": _TIME,
}

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["message"],
        "properties": {
            "message": {"type": "string"},
            "field": {"type": "string", "description": "The input that was wrong, when one was"},
        },
    },
    "User": _object(
        ["id", "username", "type", "date_joined"],
        {
            "id": {"type": "integer"},
            "username": {"type": "string"},
            "type": {"type": "string", "enum": ["User"]},
            "date_joined": _TIME,
            "email": {"type": "string", "nullable": True},
            "is_admin": {"type": "boolean"},
        },
    ),
    "SignUp": _object(
        ["username", "email", "password"],
        {
            "username": {**_NAME, "description": "4 to 30 lowercase letters or digits, not reserved"},
            "email": {"type": "string", "maxLength": 254},
            "password": {
                "type": "string",
                "minLength": 8,
                "maxLength": 256,
                "description": "Not only digits, not only lowercase letters",
            },
        },
    ),
    "PasswordChange": _object(
        ["old_password", "new_password"],
        {"old_password": {"type": "string"}, "new_password": {"type": "string"}},
    ),
    "PasswordConfirmation": _object(["password"], {"password": {"type": "string"}}),
    "OrgCreate": _object(["name"], {"name": _NAME}),
    "Org": _object(
        ["id", "orgname", "type", "date_joined"],
        {
            "id": {"type": "integer"},
            "orgname": {"type": "string"},
            "type": {"type": "string", "enum": ["Org"]},
            "date_joined": _TIME,
        },
    ),
    "Member": _object(
        ["username", "role"],
        {"username": {"type": "string"}, "role": {"type": "string", "enum": ["owner", "member"]}},
    ),
    "MemberList": _object(
        ["count", "results"],
        {"count": {"type": "integer"}, "results": {"type": "array", "items": _ref("Member")}},
    ),
    "RoleChange": _object(["role"], {"role": {"type": "string", "enum": ["owner", "member"]}}),
    "TokenCreate": _object(
        ["token_label"],
        {
            "token_label": {"type": "string", "minLength": 1, "maxLength": 100},
            "scope": {"type": "string", "enum": ["read", "read-write", "delete"], "default": "read"},
        },
    ),
    "AccessToken": _object(
        ["uuid", "token_label", "scope", "created_at", "last_used", "is_active", "generated_by"],
        {
            "uuid": {"type": "string"},
            "token_label": {"type": "string"},
            "scope": {"type": "string", "enum": ["read", "read-write", "delete"]},
            "created_at": _TIME,
            "last_used": _NULLABLE_TIME,
            "is_active": {"type": "boolean"},
            "generated_by": {"type": "string", "enum": ["manual"]},
            "token": {"type": "string", "description": "The secret (cbpat_…); only in the create response"},
        },
    ),
    "AccessTokenList": _object(
        ["count", "results"],
        {"count": {"type": "integer"}, "results": {"type": "array", "items": _ref("AccessToken")}},
    ),
    "RepositorySummary": _object(list(_SUMMARY_FIELDS), _SUMMARY_FIELDS),
    "Repository": _object(
        [*_SUMMARY_FIELDS, "full_description", "has_starred", "permissions"],
        {
            **_SUMMARY_FIELDS,
            "full_description": {"type": "string", "description": "Markdown (the README)"},
            "has_starred": {"type": "boolean", "description": "Whether the caller starred it"},
            "permissions": _object(
                ["read", "write", "admin"],
                {"read": {"type": "boolean"}, "write": {"type": "boolean"}, "admin": {"type": "boolean"}},
            ),
        },
    ),
    "RepositoryUpdate": {
        "type": "object",
        "description": "At least one of the fields; the others stay as they are",
        "properties": {
            "is_private": {"type": "boolean", "description": "Needs the delete permission"},
            "description": {
                "type": "string",
                "maxLength": 100,
                "pattern": "^[^\\r\\n\\x00]*$",
                "description": "Short, one line: what search shows",
            },
            "full_description": {
                "type": "string",
                "maxLength": 25000,
                "pattern": "^[^\\x00]*$",
                "description": "Markdown",
            },
        },
        "anyOf": [
            {"required": ["is_private"]},
            {"required": ["description"]},
            {"required": ["full_description"]},
        ],
    },
    "RepositoryList": _page_of(_ref("RepositorySummary")),
    "StarredRepository": {
        "allOf": [_ref("RepositorySummary"), _object(["starred_at"], {"starred_at": _TIME})],
    },
    "StarredList": _page_of(_ref("StarredRepository")),
    "Image": _object(
        ["architecture", "os", "variant", "digest", "size"],
        {
            "architecture": {"type": "string", "nullable": True, "description": "null when unknown"},
            "os": {"type": "string", "nullable": True, "description": "null when unknown"},
            "variant": {"type": "string", "nullable": True},
            "digest": {"type": "string", "description": "The platform image's manifest digest"},
            "size": {"type": "integer", "minimum": 0, "description": "Config plus layers, compressed"},
        },
    ),
    "Tag": _object(
        ["name", "digest", "media_type", "full_size", "last_updated", "images"],
        {
            "name": {"type": "string"},
            "digest": {"type": "string", "description": "Digest of the tagged manifest or index"},
            "media_type": {"type": "string"},
            "full_size": {
                "type": "integer",
                "minimum": 0,
                "description": "Compressed size: config plus layers, summed over the platform images",
            },
            "last_updated": _TIME,
            "images": {
                "type": "array",
                "items": _ref("Image"),
                "description": "One per platform (attestation manifests left out)",
            },
        },
    ),
    "TagList": _page_of(_ref("Tag")),
}


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": description,
    }


_REPO_PARAMS = [
    _path_param("namespace", "A user or organisation name (library for official images)"),
    _path_param("repo", "The repository's name inside the namespace"),
]
_ORG_PARAM = _path_param("org", "Organisation name")
_TAG_PARAM = _path_param("tag", "The tag's name")


def _query_param(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


_PAGE_PARAMS = [
    _query_param(
        "page", {"type": "integer", "minimum": 1, "maximum": 1_000_000, "default": 1}, "Page number, from 1"
    ),
    _query_param(
        "page_size",
        {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
        "Results per page",
    ),
]


def _ordering(default: str) -> dict[str, Any]:
    return _query_param(
        "ordering",
        {"type": "string", "enum": ["last_updated", "-last_updated", "name", "-name"], "default": default},
        "last_updated: newest first; -last_updated: oldest first; name, -name: by name",
    )


_PUBLIC_READ: list[dict[str, list[str]]] = [{}, {"basic": []}]  # anonymous callers see public data
_REPOSITORY_MISSING = _error("Missing, or private and not readable by the caller")
_PAGE_ERROR = _error(
    "A bad page, page_size or ordering, or an anonymous caller paging past 10,000 results (see field)"
)

_PATHS: dict[str, Any] = {
    "/api/users": {
        "post": {
            "operationId": "signUp",
            "summary": "Create an account (when registration is open)",
            "security": [],
            "requestBody": _body(_ref("SignUp")),
            "responses": {
                "201": _json(_ref("User"), "The new account"),
                "400": _error("A rule was broken (see field)"),
                "403": _error("Registration is closed"),
                "409": _error("The username or email is taken"),
            },
        }
    },
    "/api/user": {
        "get": {
            "operationId": "getCurrentUser",
            "summary": "The caller's account",
            "responses": {"200": _json(_ref("User"), "The caller"), **_AUTH_ERRORS},
        },
        "delete": {
            "operationId": "deleteCurrentUser",
            "summary": "Delete the caller's account, its tokens and its repositories (password only)",
            "requestBody": _body(_ref("PasswordConfirmation")),
            "responses": {
                "204": {"description": "Deleted"},
                "400": _error("Malformed body"),
                "403": _error("Wrong password, or an access token was used"),
                **_AUTH_ERRORS,
            },
        },
    },
    "/api/user/password": {
        "put": {
            "operationId": "changePassword",
            "summary": "Change the caller's password (password login only)",
            "requestBody": _body(_ref("PasswordChange")),
            "responses": {
                "204": {"description": "Changed"},
                "400": _error("The new password breaks a rule"),
                "403": _error("Wrong current password, or an access token was used"),
                **_AUTH_ERRORS,
            },
        }
    },
    "/api/orgs": {
        "post": {
            "operationId": "createOrg",
            "summary": "Create an organisation; the caller becomes its owner",
            "requestBody": _body(_ref("OrgCreate")),
            "responses": {
                "201": _json(_ref("Org"), "The new organisation"),
                "400": _error("The name breaks a rule"),
                "403": _error("An access token was used"),
                "409": _error("The name is taken"),
                **_AUTH_ERRORS,
            },
        }
    },
    "/api/orgs/{org}/members": {
        "get": {
            "operationId": "listOrgMembers",
            "summary": "Members of an organisation (visible to its members)",
            "parameters": [_ORG_PARAM],
            "responses": {
                "200": _json(_ref("MemberList"), "Members and their roles"),
                "404": _error("No such organisation, or the caller is not a member"),
                **_AUTH_ERRORS,
            },
        }
    },
    "/api/orgs/{org}/members/{username}": {
        "put": {
            "operationId": "setOrgMember",
            "summary": "Add a member or change a member's role (owners only)",
            "parameters": [_ORG_PARAM, _path_param("username", "The user")],
            "requestBody": _body(_ref("RoleChange")),
            "responses": {
                "200": _json(_ref("Member"), "The membership"),
                "400": _error("Unknown role, or the last owner would be demoted"),
                "403": _error("The caller is not an owner, or an access token was used"),
                "404": _error("No such organisation or user"),
                **_AUTH_ERRORS,
            },
        },
        "delete": {
            "operationId": "removeOrgMember",
            "summary": (
                "Remove a member (owners only), or leave: any member may remove themselves"
                " (an organisation keeps at least one owner)"
            ),
            "parameters": [_ORG_PARAM, _path_param("username", "The user (the caller's own name to leave)")],
            "responses": {
                "204": {"description": "Removed"},
                "400": _error("The last owner cannot be removed or leave"),
                "403": _error(
                    "The caller is not an owner and not the member named, or an access token was used"
                ),
                "404": _error("No such organisation, user or membership"),
                **_AUTH_ERRORS,
            },
        },
    },
    "/api/access-tokens": {
        "post": {
            "operationId": "createAccessToken",
            "summary": "Create a personal access token (password login only); the secret is shown once",
            "requestBody": _body(_ref("TokenCreate")),
            "responses": {
                "201": _json(_ref("AccessToken"), "The token, with its secret"),
                "400": _error("Bad label or scope"),
                "403": _error("An access token was used"),
                **_AUTH_ERRORS,
            },
        },
        "get": {
            "operationId": "listAccessTokens",
            "summary": "The caller's access tokens (without secrets)",
            "responses": {"200": _json(_ref("AccessTokenList"), "Tokens, oldest first"), **_AUTH_ERRORS},
        },
    },
    "/api/access-tokens/{uuid}": {
        "delete": {
            "operationId": "revokeAccessToken",
            "summary": "Revoke one of the caller's tokens",
            "parameters": [_path_param("uuid", "The token's uuid")],
            "responses": {
                "204": {"description": "Revoked"},
                "404": _error("No such active token"),
                **_AUTH_ERRORS,
            },
        }
    },
    "/api/repositories/{namespace}": {
        "get": {
            "operationId": "listRepositories",
            "summary": "A namespace's repositories (private ones only for those who may read them)",
            "description": "A trailing slash (/api/repositories/{namespace}/) is accepted too.",
            "security": _PUBLIC_READ,
            "parameters": [_REPO_PARAMS[0], *_PAGE_PARAMS, _ordering("name")],
            "responses": {
                "200": _json(_ref("RepositoryList"), "A page of repositories"),
                "400": _PAGE_ERROR,
                "404": _error("A namespace no repository can have"),
                **_AUTH_ERRORS,
            },
        }
    },
    "/api/repositories/{namespace}/{repo}": {
        "get": {
            "operationId": "getRepository",
            "summary": "A repository's page: descriptions, counts, the caller's star and permissions",
            "description": "Anonymous callers see public repositories. A trailing slash is accepted.",
            "security": _PUBLIC_READ,
            "parameters": _REPO_PARAMS,
            "responses": {
                "200": _json(_ref("Repository"), "The repository"),
                "404": _REPOSITORY_MISSING,
                **_AUTH_ERRORS,
            },
        },
        "patch": {
            "operationId": "updateRepository",
            "summary": "Change a repository's visibility or descriptions (namespace owners and admins)",
            "description": (
                "is_private needs the delete permission (a token with the delete scope); the "
                "descriptions need ownership and a token of at least the read-write scope."
            ),
            "parameters": _REPO_PARAMS,
            "requestBody": _body(_ref("RepositoryUpdate")),
            "responses": {
                "200": _json(_ref("Repository"), "The repository"),
                "400": _error("Malformed body, or a description too long (see field)"),
                "403": _error("The caller may read but not administer the repository"),
                "404": _REPOSITORY_MISSING,
                **_AUTH_ERRORS,
            },
        },
        "delete": {
            "operationId": "deleteRepository",
            "summary": "Delete a repository: its tags, manifests, blob links and stars",
            "description": "Blobs stay until garbage collection. Needs the delete permission.",
            "parameters": _REPO_PARAMS,
            "responses": {
                "204": {"description": "Deleted"},
                "403": _error("The caller may not delete it, or deletion is disabled on this hub"),
                "404": _REPOSITORY_MISSING,
                **_AUTH_ERRORS,
            },
        },
    },
    "/api/repositories/{namespace}/{repo}/tags": {
        "get": {
            "operationId": "listTags",
            "summary": "A repository's tags with their sizes and platforms",
            "security": _PUBLIC_READ,
            "parameters": [
                *_REPO_PARAMS,
                *_PAGE_PARAMS,
                _ordering("last_updated"),
                _query_param(
                    "name", {"type": "string", "maxLength": 128}, "Only tags whose name contains this"
                ),
            ],
            "responses": {
                "200": _json(_ref("TagList"), "A page of tags"),
                "400": _PAGE_ERROR,
                "404": _REPOSITORY_MISSING,
                **_AUTH_ERRORS,
            },
        }
    },
    "/api/repositories/{namespace}/{repo}/tags/{tag}": {
        "get": {
            "operationId": "getTag",
            "summary": "One tag",
            "security": _PUBLIC_READ,
            "parameters": [*_REPO_PARAMS, _TAG_PARAM],
            "responses": {
                "200": _json(_ref("Tag"), "The tag"),
                "404": _error("No such tag, or the repository is missing or hidden"),
                **_AUTH_ERRORS,
            },
        },
        "delete": {
            "operationId": "deleteTag",
            "summary": "Delete one tag (the manifest stays, reachable by digest)",
            "parameters": [*_REPO_PARAMS, _TAG_PARAM],
            "responses": {
                "204": {"description": "Deleted"},
                "403": _error("The caller may not delete it, or deletion is disabled on this hub"),
                "404": _error("No such tag, or the repository is missing or hidden"),
                **_AUTH_ERRORS,
            },
        },
    },
    "/api/repositories/{namespace}/{repo}/star": {
        "put": {
            "operationId": "starRepository",
            "summary": "Star a repository the caller can see (idempotent)",
            "parameters": _REPO_PARAMS,
            "responses": {"204": {"description": "Starred"}, "404": _REPOSITORY_MISSING, **_AUTH_ERRORS},
        },
        "delete": {
            "operationId": "unstarRepository",
            "summary": "Take the caller's star back (idempotent; works even once the repository is hidden)",
            "parameters": _REPO_PARAMS,
            "responses": {
                "204": {"description": "Not starred (any more)"},
                "404": _error("Not starred, and missing or hidden"),
                **_AUTH_ERRORS,
            },
        },
    },
    "/api/user/starred": {
        "get": {
            "operationId": "listStarred",
            "summary": "Repositories the caller starred, newest star first",
            "parameters": _PAGE_PARAMS,
            "responses": {
                "200": _json(_ref("StarredList"), "A page of starred repositories"),
                "400": _PAGE_ERROR,
                **_AUTH_ERRORS,
            },
        }
    },
    "/api/openapi.json": {
        "get": {
            "operationId": "getOpenApi",
            "summary": "This document",
            "security": [],
            "responses": {"200": {"description": "OpenAPI 3 document", "content": {"application/json": {}}}},
        }
    },
}


def _with_body_errors(paths: dict[str, Any]) -> dict[str, Any]:
    """Every operation that takes a body may answer 415 (not declared application/json)."""
    for item in paths.values():
        for operation in item.values():
            if "requestBody" in operation:
                operation["responses"].setdefault(
                    "415", _error("The body was not sent as Content-Type: application/json")
                )
    return paths


_with_body_errors(_PATHS)


def openapi_document(version: str) -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Cargobay hub API",
            "version": version,
            "description": (
                "Accounts, organisations, personal access tokens, repositories, tags and stars. "
                "Authenticate with HTTP Basic: a username and its password or a personal access "
                "token (cbpat_…). Access tokens cannot administer accounts. Errors are "
                '{"message", "field"?}. Lists are paginated as on Docker Hub: page and page_size '
                'in the query, {"count", "next", "previous", "results"} in the answer.'
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"basic": []}],
        "paths": _PATHS,
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {"basic": {"type": "http", "scheme": "basic"}},
        },
    }
