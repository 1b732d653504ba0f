"""`cargobay pull NAME[:TAG|@DIGEST]`: docker pull into the local store."""

from __future__ import annotations

import click

from cargobay.cli.errors import CliError, reports_errors


@click.command("pull", short_help="Download an image from a registry")
@click.argument("name")
@click.option("-a", "--all-tags", is_flag=True, help="Download all tagged images in the repository")
@click.option("--platform", metavar="string", help="Set platform if server is multi-platform capable")
@click.option("-q", "--quiet", is_flag=True, help="Suppress verbose output")
@click.option("--disable-content-trust", is_flag=True, hidden=True)
@reports_errors
def pull(name: str, all_tags: bool, platform: str | None, quiet: bool, disable_content_trust: bool) -> None:
    """Download an image from a registry."""
    from cargobay.oci.reference import InvalidReference, parse_normalized

    try:
        ref = parse_normalized(name)
    except InvalidReference as exc:
        raise CliError(str(exc)) from None
    _start_prefetch(ref.domain, ref.path, "pull")  # first round trips overlap the imports below

    import asyncio

    from cargobay import api
    from cargobay.cli.progress import Renderer

    if all_tags and (ref.tag is not None or ref.digest is not None):
        raise CliError("tag can't be used with --all-tags/-a")
    renderer = Renderer()
    if not quiet and not all_tags and ref.tag is None and ref.digest is None:
        click.echo("Using default tag: latest")
    emit = (lambda _m: None) if quiet else renderer
    try:
        results = asyncio.run(api.pull(name, platform=platform, all_tags=all_tags, emit=emit))
    except api.ApiError as exc:
        raise CliError(str(exc)) from None
    finally:
        renderer.close()
    if all_tags:
        click.echo(ref.name)
    else:
        click.echo(str(results[0].reference))


def _start_prefetch(domain: str, repository: str, actions: str) -> None:
    try:
        from cargobay.distclient import prefetch

        prefetch.start(domain, repository, actions)
    except Exception:  # a bad config file is reported later, by the command itself
        pass
