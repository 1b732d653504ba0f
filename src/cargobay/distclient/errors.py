"""Errors of the distribution client, worded as docker words them."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from cargobay.oci.errors import ParsedError, parse_error_body


class ClientError(Exception):
    """Base class: `str()` is a one-line message fit for the user."""


class RegistryUnreachable(ClientError):
    """The registry could not be reached (refused, DNS, TLS, timeout)."""


def connection_error(method: str, url: str, exc: BaseException) -> RegistryUnreachable:
    """`exc`, raised sending `method` to `url`, as docker words it (`Get "URL": dial tcp …`)."""
    # Imported here, not at the top: this module stays light for the commands that only
    # catch ClientError. `exc` came from the HTTP client, so it is already loaded.
    import ssl

    from cargobay.distclient.config import join_host_port
    from cargobay.distclient.httpclient import (
        CertificateError,
        ConnectError,
        NameResolutionError,
        ProxyError,
        ServerDisconnected,
        TLSError,
    )

    def dial(host: str, hostname: str, error: ConnectError) -> str:
        """Go's text for a failed dial of `host` (host:port)."""
        if isinstance(error, NameResolutionError):
            return f"dial tcp: lookup {hostname}: no such host"
        err = error.os_error
        if isinstance(err, TimeoutError):
            return f"dial tcp {host}: i/o timeout"
        reason = os.strerror(err.errno).lower() if err.errno else (err.strerror or str(err)).lower()
        return f"dial tcp {host}: connect: {reason}"

    verb = method.capitalize()
    parts = urlsplit(url)
    host = parts.netloc
    if parts.port is None:
        host = f"{host}:{'443' if parts.scheme == 'https' else '80'}"
    if isinstance(exc, ProxyError):  # Go: `proxyconnect tcp: dial tcp …` when the proxy is unreachable
        inner = exc.connect_error
        if inner is not None:
            proxy = join_host_port(inner.host, inner.port)
            return RegistryUnreachable(f'{verb} "{url}": proxyconnect tcp: {dial(proxy, inner.host, inner)}')
        return RegistryUnreachable(f'{verb} "{url}": {exc}')
    if isinstance(exc, CertificateError):
        cert_error = exc.certificate_error
        reason = getattr(cert_error, "verify_message", "") or str(cert_error)
        if any(word in reason for word in ("self-signed", "self signed", "local issuer", "unknown ca")):
            reason = "certificate signed by unknown authority"
        return RegistryUnreachable(f'{verb} "{url}": tls: failed to verify certificate: x509: {reason}')
    if isinstance(exc, TLSError | ssl.SSLError):
        text = str(exc)
        if "WRONG_VERSION_NUMBER" in text or "record layer failure" in text or "http request" in text:
            return RegistryUnreachable(f'{verb} "{url}": http: server gave HTTP response to HTTPS client')
        return RegistryUnreachable(f'{verb} "{url}": tls: {text}')
    if isinstance(exc, ConnectError):
        return RegistryUnreachable(f'{verb} "{url}": {dial(host, parts.hostname or "", exc)}')
    if isinstance(exc, TimeoutError):
        return RegistryUnreachable(f'{verb} "{url}": i/o timeout')
    if isinstance(exc, ServerDisconnected):
        return RegistryUnreachable(f'{verb} "{url}": EOF')
    return RegistryUnreachable(f'{verb} "{url}": {exc or exc.__class__.__name__}')


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
