"""`n`/`last` pagination shared by the tags list and the catalog."""

from __future__ import annotations

from dataclasses import dataclass

from cargobay.oci.errors import ErrorCode, RegistryError


@dataclass(frozen=True, slots=True)
class Page:
    limit: int
    last: str | None
    explicit: bool  # the client asked for `n`


def parse_page(n: str | None, last: str | None, *, default: int, maximum: int) -> Page:
    """Validate `n`: a non-negative integer no larger than `maximum` (400 otherwise, never an OOM)."""
    if n is None or n == "":
        return Page(default, last, False)
    if not n.isdigit() or len(n) > 12:
        raise RegistryError(ErrorCode.PAGINATION_NUMBER_INVALID, detail={"n": n[:40]})
    value = int(n)
    if value > maximum:
        raise RegistryError(ErrorCode.PAGINATION_NUMBER_INVALID, detail={"n": value, "maximum": maximum})
    return Page(value, last, True)
