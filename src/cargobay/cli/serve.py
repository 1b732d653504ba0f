"""`cargobay serve`: run the hub."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option("--listen", metavar="HOST:PORT", help="Address to listen on (default 127.0.0.1:5000).")
@click.option(
    "--data-dir", type=click.Path(file_okay=False, path_type=Path), help="Where the hub keeps its data."
)
@click.option(
    "--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), help="YAML settings file."
)
@click.option("--workers", type=int, help="Worker processes (default 2).")
@click.option("--database-url", help="sqlite:///PATH (default, in the data dir) or postgresql://…")
def serve(
    listen: str | None,
    data_dir: Path | None,
    config_file: Path | None,
    workers: int | None,
    database_url: str | None,
) -> None:
    """Run the hub: an OCI Distribution registry with Docker Hub's product around it."""
    from cargobay.config import ConfigError, load_settings
    from cargobay.metadata.engine import DatabaseUrlError

    try:
        settings = load_settings(
            config_file,
            {"listen": listen, "data_dir": data_dir, "workers": workers, "database_url": database_url},
        )
        from cargobay.metadata.engine import normalise_url

        normalise_url(settings.effective_database_url)
    except (ConfigError, DatabaseUrlError) as exc:
        lines = exc.lines if isinstance(exc, ConfigError) else [str(exc)]
        for line in lines:
            click.echo(f"Error: {line}", err=True)
        raise SystemExit(2) from None
    from cargobay.server.run import serve as run

    try:
        run(settings)
    except OSError as exc:
        click.echo(f"Error: cannot serve on {settings.listen}: {exc.strerror or exc}", err=True)
        raise SystemExit(1) from None
