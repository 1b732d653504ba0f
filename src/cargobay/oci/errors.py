"""The one table of OCI distribution error codes: the hub renders it, the client parses it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from typing import Any


@dataclass(frozen=True, slots=True)
class _Code:
    status: int
    message: str


class ErrorCode(Enum):
    """Spec codes (distribution-spec §error codes) plus the legacy ones Docker clients know."""

    BLOB_UNKNOWN = _Code(404, "blob unknown to registry")
    BLOB_UPLOAD_INVALID = _Code(400, "blob upload invalid")
    BLOB_UPLOAD_UNKNOWN = _Code(404, "blob upload unknown to registry")
    DIGEST_INVALID = _Code(400, "provided digest did not match uploaded content")
    MANIFEST_BLOB_UNKNOWN = _Code(400, "manifest references a manifest or blob unknown to registry")
    MANIFEST_INVALID = _Code(400, "manifest invalid")
    MANIFEST_UNKNOWN = _Code(404, "manifest unknown")
    NAME_INVALID = _Code(400, "invalid repository name")
    NAME_UNKNOWN = _Code(404, "repository name not known to registry")
    SIZE_INVALID = _Code(400, "provided length did not match content length")
    UNAUTHORIZED = _Code(401, "authentication required")
    DENIED = _Code(403, "requested access to the resource is denied")
    UNSUPPORTED = _Code(405, "The operation is unsupported.")
    TOOMANYREQUESTS = _Code(429, "too many requests")
    # Legacy Docker / distribution codes (optional in the spec).
    TAG_INVALID = _Code(400, "manifest tag did not match URI")
    PAGINATION_NUMBER_INVALID = _Code(400, "invalid number of results requested")

    @property
    def status(self) -> int:
        return self.value.status

    @property
    def message(self) -> str:
        return self.value.message


class RegistryError(Exception):
    """An error the registry API reports as `{"errors":[{code,message,detail}]}`."""

    def __init__(
        self,
        code: ErrorCode,
        message: str | None = None,
        detail: Any = None,
        *,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.code = code
        self.message = message or code.message
        self.detail = detail
        self.status = status or code.status
        self.headers = headers or {}
        super().__init__(f"{code.name}: {self.message}")

    def body(self) -> bytes:
        return render_errors([self])


def render_errors(errors: list[RegistryError]) -> bytes:
    items = [{"code": e.code.name, "message": e.message, "detail": e.detail} for e in errors]
    return json.dumps({"errors": items}, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class ParsedError:
    code: str
    message: str
    detail: Any = None

    def __str__(self) -> str:
        # Docker's rendering: "manifest unknown: manifest unknown".
        return f"{self.code.lower().replace('_', ' ')}: {self.message}"


def parse_error_body(body: bytes) -> list[ParsedError]:
    """Parse an OCI error body; anything unparseable yields an empty list."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return []
    if not isinstance(doc, dict) or not isinstance(doc.get("errors"), list):
        return []
    out: list[ParsedError] = []
    for item in doc["errors"]:
        if isinstance(item, dict):
            out.append(
                ParsedError(
                    str(item.get("code", "UNKNOWN")), str(item.get("message", "")), item.get("detail")
                )
            )
    return out
