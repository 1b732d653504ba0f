"""Errors of the hub's JSON API: `{"message": ..., "field"?: ...}` with the right status, never a
traceback; and the small helpers every handler shares (request bodies, timestamps)."""

from __future__ import annotations

import datetime
import json
import logging
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from cargobay.registry.accounts import (
    AccountConflict,
    AccountError,
    AccountNotFound,
    InvalidCredentials,
    NotAllowed,
    TooManyAttempts,
)

log = logging.getLogger("cargobay.server.api")

BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="cargobay"'}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.headers = headers or {}

    def response(self) -> web.Response:
        body: dict[str, str] = {"message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return web.json_response(body, status=self.status, headers=self.headers)


def from_account_error(error: AccountError, fields: dict[str, str] | None = None) -> ApiError:
    """The status a refused account operation gets; `fields` renames the service's field names
    to the ones this endpoint takes (e.g. "password" → "new_password")."""
    field = error.field
    if field is not None and fields:
        field = fields.get(field, field)
    if isinstance(error, AccountConflict):
        status = 409
    elif isinstance(error, AccountNotFound):
        status = 404
    elif isinstance(error, NotAllowed):
        status = 403
    else:
        status = 400
    return ApiError(status, str(error), field)


def unauthorized(message: str = "authentication required") -> ApiError:
    return ApiError(401, message, headers=BASIC_CHALLENGE)


def throttled(error: TooManyAttempts) -> ApiError:
    return ApiError(429, str(error), headers={"Retry-After": str(error.retry_after)})


@web.middleware
async def api_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure under /api/ becomes JSON with its status."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except ApiError as error:
        return error.response()
    except TooManyAttempts as error:
        return throttled(error).response()
    except InvalidCredentials as error:
        return unauthorized(str(error)).response()
    except AccountError as error:
        return from_account_error(error).response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}
        message = exc.reason.lower() if exc.reason else "error"
        if exc.status == 404:
            message = "not found"
        return ApiError(exc.status, message, headers=headers).response()
    except Exception:
        log.exception("internal error on %s %s", request.method, request.path)
        return ApiError(500, "internal server error").response()


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object (400 when it is not one).

    The body must be declared `application/json`: an HTML form cannot send that type to another
    site without a CORS preflight, so a page elsewhere cannot ride on credentials a browser
    remembers for the hub.
    """
    raw = await request.read()
    if not raw:
        raise ApiError(400, "a JSON object is required as the request body")
    if request.content_type != "application/json":
        raise ApiError(415, "send the request body as Content-Type: application/json")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    return body


def _is_text(value: str) -> bool:
    """No NUL characters (PostgreSQL cannot store them) and no lone surrogates (not UTF-8)."""
    if "\x00" in value:
        return False
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def string_field(body: dict[str, Any], name: str, *, default: str | None = None) -> str:
    value = body.get(name, default)
    if value is None:
        raise ApiError(400, f"{name} is required", name)
    if not isinstance(value, str):
        raise ApiError(400, f"{name} must be a string", name)
    if not _is_text(value):
        raise ApiError(400, f"{name} must be text without NUL characters", name)
    return value


def path_param(request: web.Request, name: str, missing: str) -> str:
    """A name from the URL; one that no account, token or repository can have is 404 `missing`."""
    value = request.match_info[name]
    if not _is_text(value) or len(value) > 255:
        raise ApiError(404, missing)
    return value


def bool_field(body: dict[str, Any], name: str) -> bool:
    value = body.get(name)
    if not isinstance(value, bool):
        raise ApiError(400, f"{name} must be true or false", name)
    return value


def timestamp(epoch: float | None) -> str | None:
    """RFC 3339 in UTC with microseconds, as Docker Hub writes them."""
    if epoch is None:
        return None
    moment = datetime.datetime.fromtimestamp(epoch, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
