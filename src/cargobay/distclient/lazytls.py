"""Import aiohttp without paying for the TLS contexts it builds at import time.

`aiohttp.connector` creates two `SSLContext`s when it is imported and loads the system CA store
into both (about 20 ms each here): a third of aiohttp's import and a large share of the start-up
of `cargobay pull`/`push`, even against a plain-HTTP registry that never uses TLS.

Importing this module imports aiohttp so that those two contexts are `DeferredCAContext`s: the
CA store is loaded into a context the first time it wraps a connection (`wrap_bio`, which asyncio
calls for every TLS handshake, or `wrap_socket`), under a lock, before the handshake. A context
that is used therefore verifies exactly as before; one that is never used costs nothing. Only
calls made by `aiohttp.connector` during that import are changed; every other caller, and any
thread, gets the standard library's behaviour. When aiohttp was imported already (the hub, the
tests) nothing happens.

Import this module before aiohttp (`cargobay.distclient.client` does).
"""

from __future__ import annotations

import os
import ssl
import sys
import threading
from typing import Any

_lock = threading.Lock()
_CONNECTOR = "aiohttp.connector"


class DeferredCAContext(ssl.SSLContext):
    """An SSLContext whose default CA store is loaded on its first TLS connection."""

    _ca_pending = True

    def load_deferred_ca(self) -> None:
        if not self._ca_pending:
            return
        with _lock:
            if self._ca_pending:
                super().set_default_verify_paths()
                self._ca_pending = False

    def set_default_verify_paths(self) -> None:
        with _lock:
            super().set_default_verify_paths()
            self._ca_pending = False

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:
        self.load_deferred_ca()
        return super().wrap_bio(*args, **kwargs)

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        self.load_deferred_ca()
        return super().wrap_socket(*args, **kwargs)


def _called_from_connector() -> bool:
    # frame 0: this function, 1: the patched function, 2: its caller
    return sys._getframe(2).f_globals.get("__name__") == _CONNECTOR


def _import_aiohttp() -> None:
    if "aiohttp" in sys.modules or _CONNECTOR in sys.modules:
        return
    real_create = ssl.create_default_context
    real_paths = ssl.SSLContext.set_default_verify_paths
    shadowed = "set_default_verify_paths" in vars(ssl.SSLContext)

    def create_default_context(
        purpose: ssl.Purpose = ssl.Purpose.SERVER_AUTH,
        *,
        cafile: Any = None,
        capath: Any = None,
        cadata: Any = None,
    ) -> ssl.SSLContext:
        plain = purpose == ssl.Purpose.SERVER_AUTH and cafile is None and capath is None and cadata is None
        if not plain or not _called_from_connector():
            return real_create(purpose, cafile=cafile, capath=capath, cadata=cadata)
        # What create_default_context(SERVER_AUTH) does, less loading the CA store now.
        context = DeferredCAContext(ssl.PROTOCOL_TLS_CLIENT)
        keylog = os.environ.get("SSLKEYLOGFILE")
        if keylog and not sys.flags.ignore_environment:
            context.keylog_filename = keylog
        return context

    def set_default_verify_paths(self: ssl.SSLContext) -> None:
        if type(self) is ssl.SSLContext and _called_from_connector():
            self.__class__ = DeferredCAContext  # same layout: the CA store loads on first use
            return
        real_paths(self)

    ssl.create_default_context = create_default_context
    ssl.SSLContext.set_default_verify_paths = set_default_verify_paths  # type: ignore[method-assign]
    try:
        import aiohttp  # noqa: F401
    finally:
        ssl.create_default_context = real_create
        if shadowed:
            ssl.SSLContext.set_default_verify_paths = real_paths  # type: ignore[method-assign]
        else:
            del ssl.SSLContext.set_default_verify_paths


_import_aiohttp()
