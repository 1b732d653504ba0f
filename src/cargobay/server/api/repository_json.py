"""JSON shapes of repositories and tags (Docker Hub's field names), and the statuses the
catalogue's refusals get. Shared by the repository, tag and star handlers."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from cargobay.metadata.catalogue import OFFICIAL_PREFIX, RepositoryRow
from cargobay.registry.access import Access
from cargobay.registry.catalogue import (
    CatalogueError,
    NotAllowed,
    NotSignedIn,
    RepositoryInfo,
    RepositoryNotFound,
)
from cargobay.registry.hub_repositories import DeletionDisabled, TagNotFound
from cargobay.registry.tag_images import TagDetails
from cargobay.server.api.errors import ApiError, timestamp, unauthorized

REPOSITORY_NOT_FOUND = "repository not found"
TAG_NOT_FOUND = "tag not found"


def api_error(error: CatalogueError) -> ApiError:
    """A hidden private repository and a missing one get the very same answer."""
    if isinstance(error, RepositoryNotFound):
        return ApiError(404, REPOSITORY_NOT_FOUND)
    if isinstance(error, TagNotFound):
        return ApiError(404, TAG_NOT_FOUND)
    if isinstance(error, NotSignedIn):
        return unauthorized(str(error))
    if isinstance(error, NotAllowed | DeletionDisabled):
        return ApiError(403, str(error))
    return ApiError(400, str(error), error.field)


@contextlib.contextmanager
def catalogue_errors() -> Iterator[None]:
    try:
        yield
    except CatalogueError as error:
        raise api_error(error) from None


def permissions(access: Access) -> dict[str, bool]:
    return {
        "read": "pull" in access.actions,
        "write": "push" in access.actions,
        "admin": "delete" in access.actions,
    }


def repository_summary(row: RepositoryRow) -> dict[str, Any]:
    """A repository as a namespace's list shows it."""
    namespace, _, name = row.name.partition("/")
    return {
        "name": name,
        "namespace": namespace,
        "repository_type": "image",
        "description": row.description,
        "is_private": row.private,
        "is_official": row.name.startswith(OFFICIAL_PREFIX),
        "star_count": row.star_count,
        "pull_count": row.pull_count,
        "last_updated": timestamp(row.last_pushed_at),
        "date_registered": timestamp(row.created_at),
    }


def repository_detail(info: RepositoryInfo, access: Access) -> dict[str, Any]:
    """A repository's page: the summary plus the README, the caller's star and permissions."""
    return {
        "name": info.repository,
        "namespace": info.namespace,
        "repository_type": "image",
        "description": info.description,
        "full_description": info.full_description,
        "is_private": info.is_private,
        "is_official": info.is_official,
        "star_count": info.star_count,
        "pull_count": info.pull_count,
        "last_updated": timestamp(info.last_pushed_at),
        "date_registered": timestamp(info.created_at),
        "has_starred": info.has_starred,
        "permissions": permissions(access),
    }


def tag_json(tag: TagDetails) -> dict[str, Any]:
    return {
        "name": tag.name,
        "digest": tag.digest,
        "media_type": tag.media_type,
        "full_size": tag.full_size,
        "last_updated": timestamp(tag.last_updated),
        "images": [
            {
                "architecture": image.architecture,
                "os": image.os,
                "variant": image.variant,
                "digest": image.digest,
                "size": image.size,
            }
            for image in tag.images
        ],
    }
