"""Content-addressed blob storage, keyed by digest and never by user-supplied paths."""

from cargobay.storage.base import BlobStore, BlobWriter, DigestMismatch, SizeMismatch

__all__ = ["BlobStore", "BlobWriter", "DigestMismatch", "SizeMismatch"]
