"""The store's errors; `str()` of each is the text to show the user."""

from __future__ import annotations

from cargobay.oci.digest import Digest


class StoreError(Exception):
    """Base class; `str()` is the text to show the user."""


class ImageNotFound(StoreError):
    pass


class Conflict(StoreError):
    pass


class MissingBlobs(StoreError):
    def __init__(self, digests: list[Digest]) -> None:
        self.digests = digests
        super().__init__("missing blobs: " + ", ".join(str(d) for d in digests))
