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


def main() -> None:
    try:
        cli.main(prog_name="cargobay", standalone_mode=True)
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        sys.exit(130)
