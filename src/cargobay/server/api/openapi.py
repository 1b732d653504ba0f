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
    "Repository": _object(
        ["namespace", "name", "repository_type", "is_private", "permissions"],
        {
            "namespace": {"type": "string"},
            "name": {"type": "string"},
            "repository_type": {"type": "string", "enum": ["image"]},
            "is_private": {"type": "boolean"},
            "permissions": _object(
                ["read", "write", "admin"],
                {"read": {"type": "boolean"}, "write": {"type": "boolean"}, "admin": {"type": "boolean"}},
            ),
        },
    ),
    "RepositoryUpdate": _object(["is_private"], {"is_private": {"type": "boolean"}}),
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
            "summary": "Remove a member (owners only; an organisation keeps at least one owner)",
            "parameters": [_ORG_PARAM, _path_param("username", "The user")],
            "responses": {
                "204": {"description": "Removed"},
                "400": _error("The last owner cannot be removed"),
                "403": _error("The caller is not an owner, or an access token was used"),
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
    "/api/repositories/{namespace}/{repo}": {
        "get": {
            "operationId": "getRepository",
            "summary": "A repository (anonymous callers see public ones)",
            "security": [{}, {"basic": []}],
            "parameters": _REPO_PARAMS,
            "responses": {
                "200": _json(_ref("Repository"), "The repository"),
                "404": _error("Missing, or private and not readable by the caller"),
                **_AUTH_ERRORS,
            },
        },
        "patch": {
            "operationId": "updateRepository",
            "summary": "Change a repository's visibility (namespace owners and admins)",
            "parameters": _REPO_PARAMS,
            "requestBody": _body(_ref("RepositoryUpdate")),
            "responses": {
                "200": _json(_ref("Repository"), "The repository"),
                "400": _error("Malformed body"),
                "403": _error("The caller may read but not administer the repository"),
                "404": _error("Missing, or private and not readable by the caller"),
                **_AUTH_ERRORS,
            },
        },
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
                "Accounts, organisations, personal access tokens and repository settings. "
                "Authenticate with HTTP Basic: a username and its password or a personal access "
                "token (cbpat_…). Access tokens cannot administer accounts. Errors are "
                '{"message", "field"?}.'
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
