"""Alembic logs "setup plugin …" at import and "Context impl …", "Will assume transactional
DDL." on every run, at INFO; the hub logs its own line when it actually migrates. A level
configured explicitly is left alone."""

from __future__ import annotations

import logging


def quiet_alembic() -> None:
    for name in ("alembic.runtime.migration", "alembic.runtime.plugins"):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)
