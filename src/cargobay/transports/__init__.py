"""Image transports: `docker://`, `oci:`, `docker-archive:` and the local store (a plain name).

`parse_transport` only parses; opening a transport imports what it needs (the HTTP client
only for `docker://`), so callers stay light.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cargobay.oci.reference import Reference, parse_normalized

TransportKind = Literal["docker", "oci", "docker-archive", "local"]


class TransportError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class TransportRef:
    kind: TransportKind
    reference: Reference | None = None  # docker and local (normalised), optional for docker-archive
    path: str | None = None  # oci and docker-archive
    tag: str | None = None  # oci: the ref name in index.json

    def __str__(self) -> str:
        if self.kind == "docker":
            return f"docker://{self.reference}"
        if self.kind == "oci":
            return f"oci:{self.path}" + (f":{self.tag}" if self.tag else "")
        if self.kind == "docker-archive":
            return f"docker-archive:{self.path}" + (f":{self.reference.familiar}" if self.reference else "")
        return self.reference.familiar if self.reference else ""


def parse_transport(text: str) -> TransportRef:
    """`docker://REF`, `oci:DIR[:TAG]`, `docker-archive:FILE[:REF]`, else a local store name."""
    from cargobay.transports.archive import split_archive_reference
    from cargobay.transports.oci_layout import split_oci_reference

    if text.startswith("docker://"):
        rest = text[len("docker://") :]
        return TransportRef("docker", parse_normalized(rest))
    if text.startswith("oci:"):
        path, tag = split_oci_reference(text[len("oci:") :])
        if not path:
            raise TransportError(f"invalid image name {text!r}: missing directory")
        return TransportRef("oci", path=path, tag=tag)
    if text.startswith("docker-archive:"):
        path, ref = split_archive_reference(text[len("docker-archive:") :])
        if not path:
            raise TransportError(f"invalid image name {text!r}: missing file")
        return TransportRef("docker-archive", parse_normalized(ref) if ref else None, path=path)
    for unsupported in ("oci-archive:", "containers-storage:", "dir:", "docker-daemon:"):
        if text.startswith(unsupported):
            raise TransportError(f"unsupported transport {unsupported.rstrip(':')!r} in {text!r}")
    if text.startswith("local:"):
        text = text[len("local:") :]
    return TransportRef("local", parse_normalized(text))
