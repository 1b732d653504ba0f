"""`cargobay search [OPTIONS] TERM`: docker search, against Docker Hub or the registry in TERM.

docker splits the work between the CLI and the daemon; both halves are here:

- the CLI's flag parsing (`--filter name=value`, `--limit` as a Go integer) and its
  formatter (cli/command/registry/formatter_search.go): NAME DESCRIPTION STARS OFFICIAL,
  descriptions on one line and cut to 45 display cells unless `--no-trunc`, `[OK]` for official
  images, and in `json` every value a string;
- the daemon's filter checks and filtering (stars=N, the largest wins; is-official; the
  deprecated is-automated), applied after fetching `--limit` results, in the registry's order.

The HTTP call lives in cargobay.distclient.search, imported when the command runs (it pulls in
asyncio and the HTTP client); this module stays light.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from cargobay.cli import render
from cargobay.cli.errors import CliError, reports_errors

if TYPE_CHECKING:
    from cargobay.distclient.search import SearchResult

DEFAULT_TABLE = "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}"
DESCRIPTION_WIDTH = 45
SEARCH_HEADERS = {
    "Name": "NAME",
    "Description": "DESCRIPTION",
    "StarCount": "STARS",
    "IsOfficial": "OFFICIAL",
}
ACCEPTED_FILTERS = ("is-automated", "is-official", "stars")
AUTOMATED_WARNING = (
    'WARNING: the "is-automated" filter is deprecated, and searching for "is-automated=true" '
    "will not yield any results in future."
)
FLAG_ERROR_EXIT = 125  # docker's status for a flag it cannot parse


class FlagError(CliError):
    """A flag value docker's flag parser refuses: its text, then where to look, exit 125."""

    def __init__(self, message: str) -> None:
        super().__init__(f"{message}\nSee 'cargobay search --help'.", FLAG_ERROR_EXIT)


# ----------------------------------------------------------------------------- Go parsing


def go_quote(text: str) -> str:
    """strconv.Quote, near enough for error messages."""
    return json.dumps(text, ensure_ascii=False)


_INT_SYNTAX = re.compile(r"[+-]?[0-9A-Za-z_]+")
_INT64 = (-(1 << 63), (1 << 63) - 1)


def parse_go_int(text: str, func: str = "ParseInt") -> int:
    """strconv.ParseInt(text, 0, 64): 0x/0o/0b prefixes, a leading 0 for octal, `_` separators."""
    if not _INT_SYNTAX.fullmatch(text):
        raise ValueError(f"strconv.{func}: parsing {go_quote(text)}: invalid syntax")
    body = text.lstrip("+-")
    sign = -1 if text.startswith("-") else 1
    lower = body.lower()
    try:
        if lower.startswith(("0x", "0o", "0b")):
            value = int(body, 0)
        elif len(body) > 1 and body.startswith("0"):
            value = int(body[1:].removeprefix("_"), 8) if body[1:] else 0
        else:
            value = int(body, 10)
    except ValueError:
        raise ValueError(f"strconv.{func}: parsing {go_quote(text)}: invalid syntax") from None
    value *= sign
    if not _INT64[0] <= value <= _INT64[1]:
        raise ValueError(f"strconv.{func}: parsing {go_quote(text)}: value out of range")
    return value


_ATOI = re.compile(r"[+-]?[0-9]+")


def go_atoi(text: str) -> int:
    """strconv.Atoi: decimal only, an optional sign, 64-bit."""
    if not _ATOI.fullmatch(text):
        raise ValueError(f"strconv.Atoi: parsing {go_quote(text)}: invalid syntax")
    value = int(text)
    if not _INT64[0] <= value <= _INT64[1]:
        raise ValueError(f"strconv.Atoi: parsing {go_quote(text)}: value out of range")
    return value


def parse_limit(text: str) -> int:
    try:
        return parse_go_int(text)
    except ValueError as exc:
        raise FlagError(f'invalid argument {go_quote(text)} for "--limit" flag: {exc}') from None


# --------------------------------------------------------------------------------- filters

FilterArgs = dict[str, list[str]]


def parse_filter_flags(values: Iterable[str]) -> FilterArgs:
    """docker's FilterOpt: `name=value`, name lower-cased, both trimmed, values kept once each."""
    out: FilterArgs = {}
    for raw in values:
        if raw == "":
            continue
        if "=" not in raw:
            raise FlagError(
                f'invalid argument {go_quote(raw)} for "-f, --filter" flag: '
                "bad format of filter (expected name=value)"
            )
        name, _, value = raw.partition("=")
        bucket = out.setdefault(name.strip().lower(), [])
        if value.strip() not in bucket:
            bucket.append(value.strip())
    return out


def _bool_filter(args: FilterArgs, key: str) -> bool | None:
    """filters.Args.GetBoolOrDefault: `true`/`1` or `false`/`0`; neither or both is an error."""
    if key not in args:
        return None
    values = args[key]
    is_true = "true" in values or "1" in values
    is_false = "false" in values or "0" in values
    if is_true == is_false:
        raise CliError(f"invalid filter '{key}=[{' '.join(values)}]'")
    return is_true


@dataclass(frozen=True, slots=True)
class SearchFilters:
    official: bool | None = None
    min_stars: int | None = None
    automated: bool | None = None

    @property
    def matches_nothing(self) -> bool:
        """`is-automated=true`: automated builds are gone, nothing can match."""
        return self.automated is True

    def keep(self, result: SearchResult) -> bool:
        if self.official is not None and result.is_official != self.official:
            return False
        return self.min_stars is None or result.star_count >= self.min_stars


def search_filters(args: FilterArgs) -> SearchFilters:
    """The daemon's checks, in its order: unknown names, is-automated, is-official, stars."""
    for key in args:
        if key not in ACCEPTED_FILTERS:
            raise CliError(f"invalid filter '{key}'")
    automated = _bool_filter(args, "is-automated")
    if automated:
        return SearchFilters(automated=True)
    official = _bool_filter(args, "is-official")
    min_stars: int | None = None
    if "stars" in args:
        min_stars = 0
        for value in args["stars"]:
            try:
                stars = go_atoi(value)
            except ValueError as exc:
                raise CliError(f"invalid filter 'stars={value}': {exc}") from None
            min_stars = max(min_stars, stars)
    return SearchFilters(official=official, min_stars=min_stars, automated=automated)


def apply_filters(results: Iterable[SearchResult], filters: SearchFilters) -> list[SearchResult]:
    if filters.matches_nothing:
        return []
    return [r for r in results if filters.keep(r)]


# -------------------------------------------------------------------------------- rendering


def one_line(text: str) -> str:
    return text.replace("\n", " ").replace("\r", " ")


class SearchRow(render.Struct):
    """docker's searchContext: every field is a string."""

    type_name = "*registry.searchContext"

    def __init__(self, result: SearchResult, trunc: bool) -> None:
        description = one_line(result.description)
        if trunc:
            description = render.ellipsis(description, DESCRIPTION_WIDTH)
        super().__init__(
            {
                "Name": result.name,
                "Description": description,
                "StarCount": str(result.star_count),
                "IsOfficial": "[OK]" if result.is_official else "",
            }
        )
        self._official = result.is_official

    def json(self) -> Any:
        doc = super().json()
        doc["IsOfficial"] = "true" if self._official else "false"
        return doc


def render_results(results: Sequence[SearchResult], fmt: str = "", trunc: bool = True) -> str:
    """The text docker prints for `results` with `--format fmt` (`""`/`table`: the default table)."""
    if fmt in ("", "table"):
        fmt = DEFAULT_TABLE
    rows = [SearchRow(r, trunc) for r in results]
    try:
        return render.format_rows(fmt, rows, SEARCH_HEADERS)
    except render.TemplateError as exc:
        raise CliError(str(exc)) from None


# ---------------------------------------------------------------------------------- command


@click.command(
    "search",
    short_help="Search Docker Hub for images",
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.argument("term")
@click.option(
    "-f",
    "--filter",
    "filter_",
    multiple=True,
    metavar="filter",
    help="Filter output based on conditions provided",
)
@click.option(
    "--format", "format_", default="", metavar="string", help="Pretty-print search using a Go template"
)
@click.option("--limit", default="0", metavar="int", help="Max number of search results")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output")
@reports_errors
def search(term: str, filter_: tuple[str, ...], format_: str, limit: str, no_trunc: bool) -> None:
    """Search Docker Hub for images.

    TERM may name another registry (`HOST[:PORT]/TERM`): its v1 search endpoint is asked instead.
    """
    args = parse_filter_flags(filter_)
    count = parse_limit(limit)
    if "is-automated" in args:
        click.echo(AUTOMATED_WARNING, err=True)
    filters = search_filters(args)
    results: list[SearchResult] = []
    if not filters.matches_nothing:
        import asyncio

        from cargobay.distclient import search as remote

        try:
            found = asyncio.run(remote.search(term, count))
        except remote.SearchError as exc:
            raise CliError(str(exc)) from None
        results = apply_filters(found.results, filters)
    click.echo(render_results(results, format_, trunc=not no_trunc), nl=False)
