"""The client's local image store (an OCI image layout); see `store` for the layout."""

from cargobay.localstore.records import (
    Conflict,
    DeleteEvent,
    ImageNotFound,
    ImageRecord,
    MissingBlobs,
    RemoveResult,
    StoreError,
)
from cargobay.localstore.store import LocalStore, default_root

__all__ = [
    "Conflict",
    "DeleteEvent",
    "ImageNotFound",
    "ImageRecord",
    "LocalStore",
    "MissingBlobs",
    "RemoveResult",
    "StoreError",
    "default_root",
]
