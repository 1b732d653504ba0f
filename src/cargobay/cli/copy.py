"""`cargobay copy SRC DST`: copy an image between transports, like skopeo copy.

Transports: `docker://HOST/REPO[:TAG]`, `oci:DIR[:TAG]`, `docker-archive:FILE[:REF]`, and a plain
name for the local store.
"""

from __future__ import annotations

import click

from cargobay.cli.errors import CliError, reports_errors


@click.command("copy", short_help="Copy an image between registries, layouts, archives and the local store")
@click.argument("source")
@click.argument("destination")
@click.option("-a", "--all", "all_platforms", is_flag=True, help="Copy all images of a multi-platform index")
@click.option("--platform", metavar="os/arch[/variant]", help="Platform to select from an index")
@click.option("-q", "--quiet", is_flag=True, help="Suppress output")
@click.option("--digestfile", type=click.Path(dir_okay=False), help="Write the manifest digest to this file")
@reports_errors
def copy(
    source: str,
    destination: str,
    all_platforms: bool,
    platform: str | None,
    quiet: bool,
    digestfile: str | None,
) -> None:
    """Copy SOURCE to DESTINATION (docker://, oci:, docker-archive:, or a local image name)."""
    import asyncio

    from cargobay import api
    from cargobay.cli.progress import Renderer

    renderer = Renderer()
    emit = (lambda _m: None) if quiet else renderer
    try:
        outcome = asyncio.run(
            api.copy(source, destination, all_platforms=all_platforms, platform=platform, emit=emit)
        )
    except api.ApiError as exc:
        raise CliError(str(exc)) from None
    finally:
        renderer.close()
    if digestfile:
        with open(digestfile, "w") as f:
            f.write(outcome.digest)
