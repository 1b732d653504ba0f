"""How the site names and links a repository: official images as `nginx` at `/_/nginx`, the
rest by their full name at `/r/alice/app` (the rule of `registry.search.display_name`)."""

from __future__ import annotations

from cargobay.registry.search import display_name


def is_official(name: str) -> bool:
    return display_name(name) != name


def page_path(name: str) -> str:
    """The repository's canonical page: `/_/nginx` for `library/nginx`, else `/r/alice/app`."""
    return f"/_/{display_name(name)}" if is_official(name) else f"/r/{name}"


def image_reference(host: str, name: str) -> str:
    """What `docker pull` takes: `HOST/nginx` for official images, `HOST/alice/app` otherwise."""
    return f"{host}/{display_name(name)}"
