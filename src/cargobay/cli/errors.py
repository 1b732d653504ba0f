"""How every command reports failure: one readable line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import click

P = ParamSpec("P")
R = TypeVar("R")


class CliError(click.ClickException):
    """A user-facing failure. `message` is docker's wording; it is printed as `Error: message`."""

    exit_code = 1

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file: Any = None) -> None:
        click.echo(f"Error: {self.format_message()}", err=True)


def reports_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Wrap a command body: known errors become CliError; anything unexpected is still one line."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (CliError, click.exceptions.Exit, click.exceptions.Abort, click.UsageError):
            raise
        except KeyboardInterrupt:
            sys.stderr.write("\n")
            raise SystemExit(130) from None
        except OSError as exc:
            raise CliError(_os_error_text(exc)) from None
        except Exception as exc:  # last resort: never a traceback
            raise CliError(f"{exc.__class__.__name__}: {exc}" if not str(exc) else str(exc)) from None

    return wrapper


def _os_error_text(exc: OSError) -> str:
    import errno

    if exc.errno == errno.ENOSPC:
        return f"write {getattr(exc, 'filename', '') or ''}: no space left on device".replace("write : ", "")
    if exc.strerror and exc.filename:
        return f"{exc.strerror}: {exc.filename}"
    return str(exc) or exc.__class__.__name__
