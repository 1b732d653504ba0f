"""How the site names and links a repository: official images as `nginx` at `/_/nginx`, the
rest by their full name at `/r/alice/app` (the rule of `registry.search.display_name`).

A repository's other pages (settings, tag deletion, star and unstar) are under `/-/` after its
page, `/r/alice/app/-/settings`: no component of a repository name is a lone `-` (the OCI name
grammar), so they never shadow a repository's own page (`/r/alice/app/settings` is the page of
the repository `alice/app/settings`)."""

from __future__ import annotations

from cargobay.registry.search import display_name


def is_official(name: str) -> bool:
    return display_name(name) != name


def page_path(name: str) -> str:
    """The repository's canonical page: `/_/nginx` for `library/nginx`, else `/r/alice/app`."""
    return f"/_/{display_name(name)}" if is_official(name) else f"/r/{name}"


def subpages_path(name: str) -> str:
    """Where the repository's other pages start: `/r/alice/app/-`, `/_/nginx/-`."""
    return f"{page_path(name)}/-"


def image_reference(host: str, name: str) -> str:
    """What `docker pull` takes: `HOST/nginx` for official images, `HOST/alice/app` otherwise."""
    return f"{host}/{display_name(name)}"
