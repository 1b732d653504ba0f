"""The store's blob directory: a FilesystemBlobStore whose renames are synced in batches."""

from __future__ import annotations

import os
from pathlib import Path

from cargobay.oci.digest import HEX_LENGTHS, Digest
from cargobay.storage.filesystem import FilesystemBlobStore, _fsync_dir


class LocalBlobStore(FilesystemBlobStore):
    """The store's blobs. A blob is still verified and fsynced before it is renamed into place,
    but the rename is made durable by one sync of `blobs/<alg>/` before the next `index.json`
    write (`sync_directories`), not by one directory sync per blob: a crash before that may
    lose a blob nothing references yet, never leave a partial one under its digest."""

    def publish(self, temp_path: Path, digest: Digest) -> None:
        final = self.path(digest)
        if final.exists():
            temp_path.unlink(missing_ok=True)
            return
        os.replace(temp_path, final)

    def sync_directories(self) -> None:
        """Make every rename into `blobs/<alg>/` durable (this process's and any other's)."""
        for algorithm in HEX_LENGTHS:
            _fsync_dir(self.blobs_dir / algorithm)

    def has(self, digest: Digest) -> bool:
        return self.stat(digest) is not None
