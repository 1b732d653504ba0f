"""Errors of the distribution client, worded as docker words them."""

from __future__ import annotations

from cargobay.oci.errors import ParsedError, parse_error_body


class ClientError(Exception):
    """Base class: `str()` is a one-line message fit for the user."""


class RegistryUnreachable(ClientError):
    """The registry could not be reached (refused, DNS, TLS, timeout)."""


class DistributionError(ClientError):
    """The registry answered with an error status; `errors` are its `{"errors":[…]}` items."""

    def __init__(self, status: int, errors: list[ParsedError], *, method: str = "", url: str = "") -> None:
        self.status = status
        self.errors = errors
        self.method = method
        self.url = url
        super().__init__(self._text())

    @classmethod
    def from_body(cls, status: int, body: bytes, *, method: str = "", url: str = "") -> DistributionError:
        errors = parse_error_body(body)
        if not errors:
            errors = _fallback_errors(status, body)
        return cls(status, errors, method=method, url=url)

    @property
    def codes(self) -> set[str]:
        return {e.code for e in self.errors}

    def has(self, *codes: str) -> bool:
        return bool(self.codes & set(codes))

    def _text(self) -> str:
        if self.errors:
            return str(self.errors[0])
        return f"unexpected status from {self.method} request to {self.url}: {self.status}"


def _fallback_errors(status: int, body: bytes) -> list[ParsedError]:
    """Registries that answer without an error body still map to the codes docker shows."""
    if status == 401:
        return [ParsedError("UNAUTHORIZED", "authentication required")]
    if status == 403:
        return [ParsedError("DENIED", "requested access to the resource is denied")]
    if status == 429:
        return [ParsedError("TOOMANYREQUESTS", "too many requests")]
    return []


class DigestVerificationError(ClientError):
    """Received bytes did not hash to the digest that named them."""
