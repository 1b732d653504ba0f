"""The client's local image store (an OCI image layout); see `store` for the layout."""

from cargobay.localstore.errors import Conflict, ImageNotFound, MissingBlobs, StoreError
from cargobay.localstore.records import DeleteEvent, ImageRecord, RemoveResult
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
