"""Entry point. Commands are imported lazily so that `cargobay images` starts fast."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from cargobay import __version__

# command name -> "module:attribute" under cargobay.cli
COMMANDS: dict[str, str] = {
    "serve": "serve:serve",
    "images": "images:images",
    "pull": "pull:pull",
    "push": "push:push",
    "tag": "tag:tag",
    "rmi": "rmi:rmi",
    "inspect": "inspect:inspect",
    "history": "history:history",
    "copy": "copy:copy",
    "image": "image_group:image",
    "admin": "admin:admin",
    "login": "login:login",
    "logout": "logout:logout",
    "search": "search:search",
}


class LazyGroup(click.Group):
    def __init__(self, *args: Any, lazy: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self._lazy))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self._lazy:
            module_name, attr = self._lazy[cmd_name].split(":")
            try:
                module = importlib.import_module(f"cargobay.cli.{module_name}")
            except ModuleNotFoundError as exc:
                if exc.name == f"cargobay.cli.{module_name}":
                    return None
                raise
            command: click.Command = getattr(module, attr)
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-v", "--version", prog_name="cargobay")
def cli() -> None:
    """Cargobay: a container image hub and a daemonless image client."""


# Client commands that end the process without the interpreter's teardown once they succeeded:
# freeing every module and object of asyncio, the HTTP client and the rest took ~45 ms here, a
# tenth of a small pull. Not `serve` or `admin` (servers and database engines clean up on exit).
FAST_EXIT = frozenset(COMMANDS) - {"serve", "admin"}


def main() -> None:
    try:
        cli.main(prog_name="cargobay", standalone_mode=True)
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        sys.exit(130)
    except SystemExit as done:
        if done.code in (None, 0) and len(sys.argv) > 1 and sys.argv[1] in FAST_EXIT:
            exit_now()
        raise


def exit_now() -> None:
    """Exit with status 0 at once: atexit handlers run and output is flushed, then `os._exit`.

    Every file the command wrote was closed (and synced where it matters) before it returned;
    worker threads are idle. A crash-safe command may stop here like after a kill.
    """
    import atexit
    import contextlib
    import os

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(0)
