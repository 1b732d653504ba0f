"""References: normalising them, finding the image a name or ID means, and re-pointing them."""

from __future__ import annotations

from cargobay.oci.digest import Digest, InvalidDigest
from cargobay.oci.reference import IDENTIFIER_RE, InvalidReference, Reference, parse_normalized

from .records import Entry, ImageNotFound, ImageRecord, StoreError, parse_digest

_HEX = frozenset("0123456789abcdef")


def as_ref(reference: str | Reference) -> Reference:
    """The canonical stored form: full domain, and `latest` when neither tag nor digest is given."""
    if isinstance(reference, str) and "@" in reference:
        # Parse the name alone and the digest with the fast digest parser.
        name, _, digest = reference.partition("@")
        named = parse_normalized(name)
        try:
            return named.with_digest(parse_digest(digest))
        except InvalidDigest:
            raise InvalidReference("invalid digest format") from None
    ref = reference if isinstance(reference, Reference) else parse_normalized(reference)
    if not ref.domain:
        ref = parse_normalized(str(ref))
    if ref.digest is not None:
        return ref.with_digest(ref.digest)
    return ref.with_default_tag()


def lookup(records: dict[Digest, ImageRecord], text: str) -> tuple[Digest, Reference | None]:
    """Find the image; the Reference is set when `text` named a stored reference."""
    if IDENTIFIER_RE.fullmatch(text) or (text.startswith("sha256:") and Digest.is_valid(text)):
        wanted = Digest.parse(text if ":" in text else f"sha256:{text}")
        if wanted in records:
            return wanted, None
        raise ImageNotFound(f"No such image: {wanted}")
    try:
        ref = parse_normalized(text)
    except InvalidReference as exc:
        raise StoreError(str(exc)) from None
    key = ref.with_digest(ref.digest) if ref.digest is not None else ref.with_default_tag()
    for record in records.values():
        if key in record.references:
            return record.id, key
    prefix = text[len("sha256:") :] if text.startswith("sha256:") else text
    if prefix and all(c in _HEX for c in prefix):
        matches = [d for d in records if d.encoded.startswith(prefix)]
        if len(matches) == 1:
            return matches[0], None
    raise ImageNotFound(f"No such image: {key.familiar}")


def pick_entry(entries: list[Entry], image_id: Digest, via: Reference | None) -> Entry:
    mine = [e for e in entries if e.info is not None and e.info.id == image_id]
    for entry in mine:
        if via is not None and entry.ref == via:
            return entry
    return max(mine, key=lambda e: (e.ref is not None, e.tagged))


def set_reference(entries: list[Entry], ref: Reference, new: Entry) -> list[Entry]:
    """Replace whatever `ref` pointed to; an image left with no entry keeps a dangling one."""
    assert new.info is not None
    old = [e for e in entries if e.ref == ref]
    out = [e for e in entries if e.ref != ref]
    # The image being referenced no longer needs its dangling entry.
    out = [
        e
        for e in out
        if not (e.ref is None and e.foreign_name is None and e.info is not None and e.info.id == new.info.id)
    ]
    out.append(new)
    for entry in old:
        if entry.info is None or entry.info.id == new.info.id:
            continue
        if not any(e.info is not None and e.info.id == entry.info.id for e in out):
            out.append(Entry(entry.descriptor, None, entry.info, entry.tagged))
    return out


def is_single_reference(refs: list[Reference]) -> bool:
    """docker's isSingleReference: one repository and at most one tag."""
    tags = [r for r in refs if r.digest is None]
    if len(tags) > 1:
        return False
    return len({r.name for r in refs}) == 1
