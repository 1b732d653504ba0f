"""`cargobay images [REPOSITORY[:TAG]]` (also `image ls` / `image list`), docker's classic table.

Startup matters here (`cargobay images` on 1,000 images in well under 150 ms): this module
imports only click, the renderer and the local store, and the listing reads `index.json` alone,
whose entries carry the few config fields shown (see cargobay.localstore.store).

The filter helpers here are shared with `image prune`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence

import click

from cargobay.cli import render
from cargobay.cli.errors import CliError, reports_errors
from cargobay.localstore import ImageRecord, LocalStore, StoreError
from cargobay.localstore.timeutil import parse_rfc3339
from cargobay.oci.reference import Reference

Filters = dict[str, list[str]]


def parse_filters(values: Iterable[str], accepted: Sequence[str]) -> Filters:
    """Parse `key=value` flags; unknown keys fail with docker's `invalid filter 'key'`."""
    out: Filters = {}
    for raw in values:
        name, sep, value = raw.partition("=")
        if not sep:
            raise CliError("bad format of filter (expected name=value)")
        key = name.strip().lower()
        out.setdefault(key, []).append(value.strip())
    for key in out:
        if key not in accepted:
            raise CliError(f"invalid filter '{key}'")
    return out


def bool_filter(filters: Filters, key: str) -> bool | None:
    values = filters.get(key)
    if not values:
        return None
    parsed = set()
    for value in values:
        low = value.lower()
        if low in ("true", "1"):
            parsed.add(True)
        elif low in ("false", "0"):
            parsed.add(False)
        else:
            raise CliError(f"invalid filter '{key}=[{' '.join(values)}]'")
    if len(parsed) > 1:
        raise CliError(f"invalid filter '{key}=[{' '.join(values)}]'")
    return parsed.pop()


def match_labels(conditions: list[str], labels: dict[str, str]) -> bool:
    """docker's MatchKVList: every `k` or `k=v` condition must hold."""
    if not conditions:
        return True
    if not labels:
        return False
    for condition in conditions:
        key, sep, value = condition.partition("=")
        if key not in labels:
            return False
        if sep and labels[key] != value:
            return False
    return True


def excluded_by_labels(conditions: list[str], labels: dict[str, str]) -> bool:
    """`label!=k[=v]`: an image matching any of the conditions is left out."""
    return any(match_labels([condition], labels) for condition in conditions)


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_go_duration(text: str) -> float | None:
    body = text.lstrip("+-")
    if not body:
        return None
    pos = 0
    total = 0.0
    while pos < len(body):
        match = _DURATION_PART.match(body, pos)
        if match is None:
            return None
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    return -total if text.startswith("-") else total


def parse_timestamp(value: str, now: float) -> float:
    """docker's GetTimestamp: a Go duration (before now), RFC 3339 (date-only too) or Unix time."""
    duration = parse_go_duration(value)
    if duration is not None:
        return now - duration
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    stamp = parse_rfc3339(value)
    if stamp is not None:
        return stamp.unix
    for pattern in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H", "%Y-%m-%d"):
        try:
            return time.mktime(time.strptime(value, pattern))
        except ValueError:
            continue
    raise CliError(f"failed to parse value as time or duration: {value!r}".replace("'", '"'))


def path_match(pattern: str, name: str) -> bool:
    """Go's path.Match: `*` and `?` never match `/`; `[...]` classes with `^` negation."""
    return _match(pattern, 0, name, 0)


def _match(p: str, i: int, s: str, j: int) -> bool:
    while i < len(p):
        c = p[i]
        if c == "*":
            while i < len(p) and p[i] == "*":
                i += 1
            if i == len(p):
                return "/" not in s[j:]
            for k in range(j, len(s) + 1):
                if k > j and s[k - 1] == "/":
                    break
                if _match(p, i, s, k):
                    return True
            return False
        if j >= len(s):
            return False
        if c == "?":
            if s[j] == "/":
                return False
            i += 1
            j += 1
            continue
        if c == "[":
            end = p.find("]", i + 2)
            if end < 0:
                return False
            body = p[i + 1 : end]
            negate = body.startswith("^")
            if negate:
                body = body[1:]
            hit = False
            k = 0
            while k < len(body):
                lo = body[k]
                if lo == "\\" and k + 1 < len(body):
                    k += 1
                    lo = body[k]
                if k + 2 < len(body) and body[k + 1] == "-":
                    hi = body[k + 2]
                    hit = hit or lo <= s[j] <= hi
                    k += 3
                else:
                    hit = hit or s[j] == lo
                    k += 1
            if hit == negate or s[j] == "/":
                return False
            i = end + 1
            j += 1
            continue
        if c == "\\" and i + 1 < len(p):
            i += 1
            c = p[i]
        if s[j] != c:
            return False
        i += 1
        j += 1
    return j == len(s)


def reference_matches(patterns: list[str], ref: Reference) -> bool:
    """The reference filter: familiar and canonical forms, with and without the tag/digest."""
    forms = (ref.familiar, ref.familiar_name, str(ref), ref.name)
    return any(path_match(p, form) for p in patterns for form in forms)


# ------------------------------------------------------------------------------ the listing

IMAGE_FILTERS = ("dangling", "label", "label!", "before", "since", "reference", "until")

DEFAULT_TABLE = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}"
DIGEST_TABLE = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
QUIET_FORMAT = "{{.ID}}"

IMAGE_HEADERS = {
    "ID": "IMAGE ID",
    "Repository": "REPOSITORY",
    "Tag": "TAG",
    "Digest": "DIGEST",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "Size": "SIZE",
    "Containers": "CONTAINERS",
    "SharedSize": "SHARED SIZE",
    "UniqueSize": "UNIQUE SIZE",
}


class ImageRow(render.Struct):
    type_name = "*formatter.imageContext"

    def __init__(
        self, record: ImageRecord, repo: str, tag: str, digest: str, trunc: bool, now: float
    ) -> None:
        created = record.created_seconds

        def created_since() -> str:
            return render.since(created, now) if created else ""

        super().__init__(
            {
                "ID": (lambda: render.truncate_id(str(record.id))) if trunc else (lambda: str(record.id)),
                "Repository": repo,
                "Tag": tag,
                "Digest": digest,
                "CreatedSince": created_since,
                "CreatedAt": lambda: render.go_time_string(created),
                "Size": lambda: render.human_size_precision(record.size, 3),
                "Containers": "N/A",
                "SharedSize": "N/A",
                "UniqueSize": "N/A",
            }
        )


def row_keys(refs: Sequence[Reference], digests: bool) -> list[tuple[str, str, str]]:
    """docker's imageFormatTaggedAndDigest: (repository, tag, digest) for each row of one image."""
    if not refs:
        return [("<none>", "<none>", "<none>")]
    repo_tags: dict[str, list[str]] = {}
    repo_digests: dict[str, list[str]] = {}
    for ref in refs:
        if ref.digest is None:
            repo_tags.setdefault(ref.familiar_name, []).append(ref.tag or "latest")
        else:
            repo_digests.setdefault(ref.familiar_name, []).append(str(ref.digest))
    rows: list[tuple[str, str, str]] = []
    for repo, tags in repo_tags.items():
        shown = repo_digests.pop(repo, []) if digests else []
        if not digests:
            repo_digests.pop(repo, None)
        for tag in tags:
            if not shown:
                rows.append((repo, tag, "<none>"))
            rows.extend((repo, tag, digest) for digest in shown)
    for repo, values in repo_digests.items():
        if digests:
            rows.extend((repo, "<none>", d) for d in values)
        else:
            rows.append((repo, "<none>", ""))
    return rows


def image_rows(
    record: ImageRecord, refs: Sequence[Reference], digests: bool, trunc: bool, now: float
) -> list[ImageRow]:
    return [ImageRow(record, repo, tag, digest, trunc, now) for repo, tag, digest in row_keys(refs, digests)]


def select_images(
    store: LocalStore, filters: Filters, show_all: bool, now: float
) -> list[tuple[ImageRecord, list[Reference]]]:
    """The daemon's side of `docker images`: filter, newest first, with the refs to show."""
    dangling = bool_filter(filters, "dangling")
    records = store.images()

    def created_of_ref(text: str) -> float:
        try:
            return float(store.resolve(text).created_seconds)
        except StoreError as exc:
            raise CliError(str(exc)) from None

    before = min((created_of_ref(v) for v in filters.get("before", [])), default=None)
    since = max((created_of_ref(v) for v in filters.get("since", [])), default=None)
    until = min((parse_timestamp(v, now) for v in filters.get("until", [])), default=None)
    patterns = filters.get("reference", [])
    out: list[tuple[ImageRecord, list[Reference]]] = []
    for record in records:
        created = float(record.created_seconds)
        if before is not None and not created < before:
            continue
        if since is not None and not created > since:
            continue
        if until is not None and not created < until:
            continue
        if "label" in filters and not match_labels(filters["label"], record.labels):
            continue
        if "label!" in filters and excluded_by_labels(filters["label!"], record.labels):
            continue
        refs = list(record.references)
        if patterns:
            refs = [r for r in refs if reference_matches(patterns, r)]
        if not refs:
            if record.references:
                continue  # every reference was filtered out
            if dangling is False or patterns or not (show_all or dangling):
                continue
        elif dangling and any(r.digest is None for r in refs):
            continue
        out.append((record, refs))
    return out


@click.command("images", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("repository", required=False)
@click.option("-a", "--all", "show_all", is_flag=True, help="Show all images (default hides dangling images)")
@click.option("-q", "--quiet", is_flag=True, help="Only show image IDs")
@click.option("--digests", is_flag=True, help="Show digests")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output")
@click.option("-f", "--filter", "filter_", multiple=True, help="Filter output based on conditions provided")
@click.option("--format", "format_", default="", help="Format output using a custom template")
@reports_errors
def images(
    repository: str | None,
    show_all: bool,
    quiet: bool,
    digests: bool,
    no_trunc: bool,
    filter_: tuple[str, ...],
    format_: str,
) -> None:
    """List images."""
    filters = parse_filters(filter_, IMAGE_FILTERS)
    if repository:
        filters.setdefault("reference", []).append(repository)
    now = render.now()
    store = LocalStore.open_default()
    selected = select_images(store, filters, show_all, now)
    fmt = format_ or "table"
    if fmt == "table":
        fmt = QUIET_FORMAT if quiet else DIGEST_TABLE if digests else DEFAULT_TABLE
    fast = FAST_FORMATS.get(fmt)
    count = 0
    if fast is not None:
        # The default layouts, rendered without the template evaluator: each image's ID, age and
        # size are formatted once, whatever its number of rows.
        header, fields = fast
        unknown_age = "N/A" if fmt == DEFAULT_TABLE else ""
        cells: list[list[str]] = []
        for record, refs in selected:
            created = record.created_seconds
            values = {
                "ID": record.id.encoded[:12] if not no_trunc else str(record.id),
                # Only the default table says N/A ({{if .CreatedSince}}…{{else}}N/A{{end}}).
                "CreatedSince": render.since(created, now) if created else unknown_age,
                "Size": render.human_size_precision(record.size, 3),
            }
            for repo, tag, digest in row_keys(refs, digests):
                values["Repository"], values["Tag"], values["Digest"] = repo, tag, digest
                cells.append([values[f] for f in fields])
        count = len(cells)
        text = render.table(header, cells) if header else "".join(c[0] + "\n" for c in cells)
    else:
        rows: list[ImageRow] = []
        for record, refs in selected:
            rows.extend(image_rows(record, refs, digests, not no_trunc, now))
        count = len(rows)
        try:
            text = render.format_rows(fmt, rows, IMAGE_HEADERS)
        except render.TemplateError as exc:
            raise CliError(str(exc)) from None
    click.echo(text, nl=False)
    if repository in SUBCOMMAND_NAMES and not count:
        click.echo(
            f'No images found matching "{repository}": did you mean "cargobay image {repository}"?', err=True
        )


SUBCOMMAND_NAMES = frozenset(
    {"ls", "list", "rm", "remove", "tag", "inspect", "history", "prune", "pull", "push"}
)


FAST_FORMATS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    DEFAULT_TABLE: (
        ("REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"),
        ("Repository", "Tag", "ID", "CreatedSince", "Size"),
    ),
    DIGEST_TABLE: (
        ("REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"),
        ("Repository", "Tag", "Digest", "ID", "CreatedSince", "Size"),
    ),
    QUIET_FORMAT: ((), ("ID",)),
}
