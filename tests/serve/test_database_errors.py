"""A database the hub cannot open stops `cargobay serve` with one line saying which and why
(the password left out), exit status 1, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from support.postgres import available
from support.servers import free_port


def _serve(tmp_path: Path, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cargobay", "serve", "--data-dir", str(tmp_path), "--database-url", url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, done.stderr
    return errors[0]


def test_an_unreachable_postgresql_server(tmp_path: Path) -> None:
    line = _one_error_line(_serve(tmp_path, f"postgresql://hub:S3cret@127.0.0.1:{free_port()}/hub"))
    assert line.startswith("Error: cannot open the database postgresql://hub:***@127.0.0.1:")
    assert "S3cret" not in line


def test_a_missing_postgresql_database(tmp_path: Path) -> None:
    if available() is not None:
        pytest.skip("PostgreSQL does not answer on 127.0.0.1:5432")
    line = _one_error_line(_serve(tmp_path, "postgresql://postgres@127.0.0.1:5432/no_such_database_here"))
    assert 'database "no_such_database_here" does not exist' in line


def test_an_sqlite_file_that_cannot_be_created(tmp_path: Path) -> None:
    line = _one_error_line(_serve(tmp_path, f"sqlite:///{tmp_path}/no/such/folder/hub.db"))
    assert (
        line
        == f"Error: cannot open the database sqlite:///{tmp_path}/no/such/folder/hub.db: unable to open database file"
    )
