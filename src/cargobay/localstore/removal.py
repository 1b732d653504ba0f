"""Removing images as docker does (rmi, image prune) and deleting the blobs nothing reaches (gc).

The functions here work on entry lists and the blob store; the caller holds the store's lock
and writes the index.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path

from cargobay.oci import mediatypes as mt
from cargobay.oci.digest import Digest, digest_bytes
from cargobay.oci.manifest import InvalidManifest, parse_manifest
from cargobay.oci.reference import Reference

from .layout import LocalBlobStore
from .records import Conflict, DeleteEvent, Entry, ImageRecord, RemoveResult, group_records
from .refs import is_single_reference


def remove_image(
    blobs: LocalBlobStore,
    entries: list[Entry],
    record: ImageRecord,
    via: Reference | None,
    force: bool,
    result: RemoveResult,
) -> list[Entry]:
    """docker's ImageDelete on the entry list; returns the entries that remain."""
    refs = list(record.references)
    if via is not None:
        # A reference was named: remove it first.
        entries = [e for e in entries if e.ref != via]
        result.events.append(DeleteEvent("Untagged", via.familiar))
        refs = [r for r in refs if r != via]
        if via.digest is None and not any(r.digest is None and r.name == via.name for r in refs):
            # No tag left in that repository: its digest references go too.
            for r in [r for r in refs if r.digest is not None and r.name == via.name]:
                entries = [e for e in entries if e.ref != r]
                result.events.append(DeleteEvent("Untagged", r.familiar))
                refs.remove(r)
        if refs:
            return entries
    elif refs and not force and not is_single_reference(refs):
        raise Conflict(
            f"conflict: unable to delete {record.short_id} (must be forced) - "
            "image is referenced in multiple repositories"
        )
    # Delete the image: every remaining reference goes, then the image itself.
    for r in refs:
        result.events.append(DeleteEvent("Untagged", r.familiar))
    remaining = [e for e in entries if not (e.info is not None and e.info.id == record.id)]
    result.events.append(DeleteEvent("Deleted", str(record.id)))
    result.events.extend(DeleteEvent("Deleted", c) for c in _removed_chain_ids(blobs, record, remaining))
    return remaining


def prune_entries(
    blobs: LocalBlobStore,
    entries: list[Entry],
    *,
    all_images: bool,
    exclude: Callable[[ImageRecord], bool] | None,
    result: RemoveResult,
) -> list[Entry]:
    """docker image prune on the entry list, newest image first; returns the entries that remain."""
    records = sorted(group_records(entries).values(), key=lambda r: r.created_ts or 0.0, reverse=True)
    for record in records:
        if exclude is not None and exclude(record):
            continue
        if not all_images and record.tag_references:
            continue
        entries = remove_image(blobs, entries, record, None, True, result)
    return entries


def _chain_ids(diff_ids: list[str]) -> list[str]:
    out: list[str] = []
    for diff_id in diff_ids:
        out.append(diff_id if not out else str(digest_bytes(f"{out[-1]} {diff_id}".encode())))
    return out


def _removed_chain_ids(blobs: LocalBlobStore, record: ImageRecord, entries: list[Entry]) -> list[str]:
    """Layer chain IDs (top first) no remaining image shares, like the classic store prints."""
    mine = _image_chain_ids(blobs, record.id)
    if not mine:
        return []
    others: set[str] = set()
    seen: set[Digest] = {record.id}
    for entry in entries:
        if entry.info is not None and entry.info.id not in seen:
            seen.add(entry.info.id)
            others.update(_image_chain_ids(blobs, entry.info.id))
    return [c for c in reversed(mine) if c not in others]


def _image_chain_ids(blobs: LocalBlobStore, config_digest: Digest) -> list[str]:
    try:
        config = json.loads(blobs.read(config_digest))
        diff_ids = config["rootfs"]["diff_ids"]
        if not isinstance(diff_ids, list):
            return []
        return _chain_ids([str(d) for d in diff_ids])
    except (OSError, ValueError, KeyError, TypeError):
        return []


def _reachable(blobs: LocalBlobStore, entries: list[Entry]) -> set[Digest]:
    seen: set[Digest] = set()
    stack = [e.descriptor for e in entries]
    while stack:
        desc = stack.pop()
        if desc.digest in seen:
            continue
        seen.add(desc.digest)
        if desc.media_type in mt.MANIFEST_TYPES or desc.media_type == "":
            try:
                parsed = parse_manifest(blobs.read(desc.digest), desc.media_type or None)
            except (OSError, InvalidManifest):
                continue
            if parsed.config is not None:
                stack.append(parsed.config)
            stack.extend(parsed.layers)
            stack.extend(c for c in parsed.manifests if blobs.has(c.digest))
            if parsed.subject is not None and blobs.has(parsed.subject.digest):
                stack.append(parsed.subject)
    return seen


def delete_unreachable(
    blobs: LocalBlobStore, before: list[Entry], after: list[Entry], result: RemoveResult
) -> None:
    """Delete the blobs that the removed entries reached and the remaining ones do not.

    Only blobs of removed images are candidates, so a blob that a concurrent pull has
    written but not referenced yet is never touched here (that is `gc`'s job, with a grace).
    """
    kept = {id(e) for e in after}
    removed = [e for e in before if id(e) not in kept]
    if not removed:
        return
    candidates = _reachable(blobs, removed) - _reachable(blobs, after)
    for digest in sorted(candidates, key=str):
        size = blobs.stat(digest)
        if size is not None and blobs.delete(digest):
            result.reclaimed += size


def collect_garbage(blobs: LocalBlobStore, root: Path, entries: list[Entry], grace: float) -> RemoveResult:
    """Delete blobs no entry reaches, except those written less than `grace` seconds ago.

    The grace period protects blobs that a pull in progress has written but not yet
    referenced. Stale partial uploads older than the grace period are removed too.
    """
    import time

    result = RemoveResult()
    reachable = _reachable(blobs, entries)
    cutoff = time.time() - grace
    for digest in list(blobs.iter_digests()):
        if digest in reachable:
            continue
        path = blobs.path(digest)
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        if st.st_mtime > cutoff:
            continue
        if blobs.delete(digest):
            result.reclaimed += st.st_size
            result.events.append(DeleteEvent("Deleted", str(digest)))
    stale = [*blobs.uploads_dir.iterdir(), *root.glob(".*.tmp")]
    for upload in stale:
        with contextlib.suppress(FileNotFoundError):
            if upload.stat().st_mtime <= cutoff:
                upload.unlink()
    return result
