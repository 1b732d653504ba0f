"""Response helpers shared by the HTTP adapters."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from cargobay.oci.errors import ErrorCode, RegistryError, render_errors

API_VERSION_HEADER = {"Docker-Distribution-API-Version": "registry/2.0"}
log = logging.getLogger("cargobay.server")


def error_response(error: RegistryError) -> web.Response:
    headers = {**API_VERSION_HEADER, **error.headers}
    return web.Response(
        status=error.status, body=error.body(), content_type="application/json", headers=headers
    )


@web.middleware
async def registry_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure becomes OCI error JSON with the right status; never a traceback to the client."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except RegistryError as error:
        return error_response(error)
    except web.HTTPException:
        raise
    except (ConnectionResetError, OSError) as exc:
        if isinstance(exc, OSError) and exc.errno is not None and exc.errno == 28:  # ENOSPC
            log.error("disk full while handling %s %s", request.method, request.path)
            body = render_errors([RegistryError(ErrorCode.UNSUPPORTED, "storage is full")])
            return web.Response(status=507, body=body, content_type="application/json")
        raise
    except Exception:
        log.exception("internal error on %s %s", request.method, request.path)
        body = b'{"errors":[{"code":"UNKNOWN","message":"internal server error","detail":null}]}'
        return web.Response(
            status=500, body=body, content_type="application/json", headers=API_VERSION_HEADER
        )
