"""Throw-away PostgreSQL databases on the local server (127.0.0.1:5432, trust auth).

Uses asyncpg (a cargobay dependency) on a private event loop in a helper thread, so it works
from synchronous fixtures whether or not an event loop is running in the caller's thread.
"""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import Coroutine
from typing import Any, TypeVar

import asyncpg

T = TypeVar("T")

HOST = os.environ.get("CARGOBAY_TEST_PG_HOST", "127.0.0.1")
PORT = int(os.environ.get("CARGOBAY_TEST_PG_PORT", "5432"))
USER = os.environ.get("CARGOBAY_TEST_PG_USER", "postgres")


def _run(coro: Coroutine[Any, Any, T]) -> T:
    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coro))
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


async def _admin(statement: str | None) -> None:
    connection = await asyncpg.connect(host=HOST, port=PORT, user=USER, database="postgres", timeout=5)
    try:
        if statement is not None:
            await connection.execute(statement)
    finally:
        await connection.close()


def available() -> str | None:
    """None when the server answers, else why not."""
    try:
        _run(_admin(None))
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def url(database: str) -> str:
    return f"postgresql://{USER}@{HOST}:{PORT}/{database}"


def create_database(prefix: str = "cargobay_test") -> str:
    """Create a uniquely named database and return its URL."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:10]}".lower()
    _run(_admin(f'CREATE DATABASE "{name}"'))
    return url(name)


def drop_database(database_url: str) -> None:
    name = database_url.rsplit("/", 1)[1]
    _run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
