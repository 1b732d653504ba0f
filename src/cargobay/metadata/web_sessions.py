"""Web site sessions: one row per log-in, found by the hash of the cookie's secret."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import delete, select

from cargobay.metadata.accounts import ACCOUNT_COLUMNS, AccountRow, account_row
from cargobay.metadata.engine import Engines
from cargobay.metadata.schema import accounts, web_sessions


@dataclass(frozen=True, slots=True)
class SessionRow:
    account: AccountRow
    csrf_token: str
    expires_at: float


class WebSessionStore:
    def __init__(self, engines: Engines) -> None:
        self.engines = engines
        self._lookup = select(
            *ACCOUNT_COLUMNS,
            web_sessions.c.csrf_token,
            web_sessions.c.expires_at,
        ).select_from(web_sessions.join(accounts, accounts.c.id == web_sessions.c.account_id))

    async def create(self, id_hash: str, account_id: int, csrf_token: str, lifetime: float) -> None:
        now = time.time()
        async with self.engines.writer.begin() as conn:
            # Expired sessions of this account go when it logs in again: the table stays small.
            await conn.execute(
                delete(web_sessions).where(
                    web_sessions.c.account_id == account_id, web_sessions.c.expires_at < now
                )
            )
            await conn.execute(
                web_sessions.insert().values(
                    id_hash=id_hash,
                    account_id=account_id,
                    csrf_token=csrf_token,
                    created_at=now,
                    expires_at=now + lifetime,
                )
            )

    async def find(self, id_hash: str) -> SessionRow | None:
        """The live session with this hash, with its account; None when missing or expired."""
        statement = self._lookup.where(
            web_sessions.c.id_hash == id_hash, web_sessions.c.expires_at > time.time()
        )
        async with self.engines.reader.connect() as conn:
            row = (await conn.execute(statement)).first()
        if row is None:
            return None
        return SessionRow(account_row(row[: len(ACCOUNT_COLUMNS)]), str(row[-2]), float(row[-1]))

    async def delete(self, id_hash: str) -> None:
        async with self.engines.writer.begin() as conn:
            await conn.execute(delete(web_sessions).where(web_sessions.c.id_hash == id_hash))
