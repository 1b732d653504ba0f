"""Run the hub: prepare the data dir and schema once, then serve one socket from N worker processes.

Workers share nothing but the database and the storage, so any of them can take any request
(an upload begun on one continues on another).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sqlite3
import sys
import time

from aiohttp import web
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from cargobay.config import Settings
from cargobay.metadata.engine import MigrationError, create_engines, migrate
from cargobay.server.app import create_app, key_ring

log = logging.getLogger("cargobay.server")

_PURGE_INTERVAL = 3600.0
_STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
# Socket read buffer per connection: large, so blob uploads are not paused every 256 KiB.
_READ_BUFSIZE = 4 * 1024 * 1024


def _open_sqlite_once(settings: Settings) -> None:
    """An SQLite file that cannot be opened fails here, synchronously: through aiosqlite the
    failure leaves a connection thread that can outlive the event loop and print a traceback."""
    url = make_url(settings.effective_database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        sqlite3.connect(url.database).close()


async def _prepare(settings: Settings) -> None:
    """Once, before workers start: the schema (migrated to this code's) and the token signing key."""
    _open_sqlite_once(settings)
    engines = create_engines(settings.effective_database_url)
    try:
        await migrate(engines)
    finally:
        await engines.dispose()
    key_ring(settings).load(create=True)


def display_url(settings: Settings) -> str:
    """The database URL without its password, for messages."""
    url = make_url(settings.effective_database_url)
    return url.render_as_string(hide_password=True)


def _bind(settings: Settings, *, shared: bool = True) -> socket.socket:
    """Each worker binds its own SO_REUSEPORT socket, so the kernel spreads connections evenly."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if shared:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((settings.host, settings.port))
    sock.listen(2048)
    sock.setblocking(False)
    sock.set_inheritable(True)
    return sock


async def _worker_main(settings: Settings) -> None:
    sock = _bind(settings)
    app = create_app(settings)
    runner = web.AppRunner(
        app,
        access_log=log if settings.access_log else None,
        handle_signals=False,
        read_bufsize=_READ_BUFSIZE,
    )
    await runner.setup()
    site = web.SockSite(runner, sock, shutdown_timeout=5)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def purge() -> None:
        from cargobay.server.app import SERVICE_KEY

        while True:
            with contextlib.suppress(Exception):
                await app[SERVICE_KEY].purge_stale_uploads(settings.upload_max_age_seconds)
            await asyncio.sleep(_PURGE_INTERVAL)

    purger = asyncio.create_task(purge())
    await stop.wait()
    purger.cancel()
    await runner.cleanup()


def _run_worker(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    asyncio.run(_worker_main(settings))


def serve(settings: Settings) -> None:
    """Blocking: serve until SIGTERM/SIGINT."""
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        asyncio.run(_prepare(settings))
    except MigrationError as exc:  # e.g. a database migrated by a newer cargobay
        print(f"Error: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
    except (
        OSError,
        DBAPIError,
        sqlite3.Error,
    ) as exc:  # unreachable server, missing database, unwritable file
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        print(
            f"Error: cannot open the database {display_url(settings)}: {reason}", file=sys.stderr, flush=True
        )
        raise SystemExit(1) from None
    # Fail early, with a clear message, when the address is taken — also by another hub, whose
    # SO_REUSEPORT sockets an exclusive bind does not join. Workers then bind their own sockets.
    _bind(settings, shared=False).close()
    database = "postgresql" if settings.effective_database_url.startswith("postgres") else "sqlite"
    print(
        f"Cargobay hub listening on http://{settings.listen} "
        f"(data {settings.data_dir}, {database}, {settings.workers} worker{'s' if settings.workers > 1 else ''})",
        file=sys.stderr,
        flush=True,
    )
    if settings.workers == 1:
        _run_worker(settings)
        return
    children: dict[int, int] = {}
    stopping = False

    def spawn(slot: int) -> None:
        # SIGTERM and SIGINT stay blocked across the fork: a signal that arrived between the fork
        # and `children[pid] = slot` would miss the new worker (the parent would wait for it
        # forever), and one that reached the child before it dropped the parent's handler would
        # be swallowed. Blocked, the parent's is delivered once the worker is recorded, and the
        # child's once the default action is back.
        signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
            code = 0
            try:
                _run_worker(settings)
            except BaseException:
                log.exception("worker %d failed", slot)
                code = 1
            finally:
                os._exit(code)
        children[pid] = slot
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for slot in range(settings.workers):
        if stopping:  # a stop during start-up: spawn no more workers
            break
        spawn(slot)
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        dead_slot = children.pop(pid) if pid in children else None
        if dead_slot is not None and not stopping:
            log.warning("worker %d (pid %d) exited with status %d; restarting", dead_slot, pid, status)
            time.sleep(0.2)
            if not stopping:
                spawn(dead_slot)
