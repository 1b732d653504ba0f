"""`cargobay tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]`: prints nothing, re-points an existing tag."""

from __future__ import annotations

import click

from cargobay.cli.errors import CliError, reports_errors
from cargobay.localstore import LocalStore, StoreError
from cargobay.oci.digest import Digest
from cargobay.oci.reference import IDENTIFIER_RE, InvalidReference, parse_normalized


def _check_source(source: str) -> None:
    """moby's client-side ParseAnyReference check on the source."""
    if IDENTIFIER_RE.fullmatch(source) or Digest.is_valid(source):
        return
    try:
        parse_normalized(source)
    except InvalidReference as exc:
        raise CliError(f'error parsing reference: "{source}" is not a valid repository/tag: {exc}') from None


@click.command("tag", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("source")
@click.argument("target")
@reports_errors
def tag(source: str, target: str) -> None:
    """Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE."""
    _check_source(source)
    try:
        target_ref = parse_normalized(target)
    except InvalidReference as exc:
        raise CliError(f'error parsing reference: "{target}" is not a valid repository/tag: {exc}') from None
    if target_ref.digest is not None:
        raise CliError("refusing to create a tag with a digest reference")
    try:
        LocalStore.open_default().tag(source, target_ref)
    except StoreError as exc:
        raise CliError(str(exc)) from None
