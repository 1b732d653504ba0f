"""Docker image references, parsed and normalised exactly as distribution/reference does.

`parse_normalized("ubuntu")` gives `docker.io/library/ubuntu`; `parse("host/a/b:t")` parses a
reference that is already fully qualified. Error texts are docker's, word for word, because users
search for them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from cargobay.oci.digest import Digest, InvalidDigest

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_TOTAL_LENGTH_MAX = 255

# The grammar of distribution/reference regexp.go. `\w` is ASCII only there, hence re.ASCII.
_ALPHANUMERIC = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_HOST = rf"(?:{_DOMAIN_NAME}|{_IPV6})"
_DOMAIN_AND_PORT = rf"{_HOST}(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}"
_PATH_COMPONENT = rf"{_ALPHANUMERIC}(?:{_SEPARATOR}{_ALPHANUMERIC})*"
_REMOTE_NAME = rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_NAME = rf"(?:{_DOMAIN_AND_PORT}/)?{_REMOTE_NAME}"

REFERENCE_RE = re.compile(rf"^({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?$", re.ASCII)
ANCHORED_NAME_RE = re.compile(rf"^(?:({_DOMAIN_AND_PORT})/)?({_REMOTE_NAME})$", re.ASCII)
TAG_RE = re.compile(rf"^{_TAG}$", re.ASCII)
DOMAIN_RE = re.compile(rf"^{_DOMAIN_AND_PORT}$", re.ASCII)
IDENTIFIER_RE = re.compile(r"^[a-f0-9]{64}$")
SHORT_IDENTIFIER_RE = re.compile(r"^[a-f0-9]{6,64}$")


class InvalidReference(ValueError):
    """A reference docker would refuse; `str()` is docker's message."""


ERR_INVALID_FORMAT = "invalid reference format"
ERR_UPPERCASE = "invalid reference format: repository name must be lowercase"
ERR_NAME_EMPTY = "repository name must have at least one component"
ERR_NAME_TOO_LONG = f"repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters"
ERR_TAG_FORMAT = "invalid tag format"
ERR_DIGEST_FORMAT = "invalid digest format"


@dataclass(frozen=True, slots=True)
class Reference:
    """`domain/path[:tag][@digest]`. `domain` is empty only for references parsed without one."""

    domain: str
    path: str
    tag: str | None = None
    digest: Digest | None = None

    # -- names -------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The full repository name, `docker.io/library/ubuntu`."""
        return f"{self.domain}/{self.path}" if self.domain else self.path

    @property
    def familiar_name(self) -> str:
        """What `docker images` shows: `ubuntu`, `bob/app`, `localhost:5000/app`."""
        if self.domain == DEFAULT_DOMAIN:
            path = self.path
            if path.startswith(OFFICIAL_REPO_PREFIX) and "/" not in path[len(OFFICIAL_REPO_PREFIX) :]:
                return path[len(OFFICIAL_REPO_PREFIX) :]
            return path
        return self.name

    def _suffix(self) -> str:
        out = f":{self.tag}" if self.tag else ""
        return f"{out}@{self.digest}" if self.digest else out

    def __str__(self) -> str:
        return self.name + self._suffix()

    @property
    def familiar(self) -> str:
        """`ubuntu:22.04`, `bob/app@sha256:…`."""
        return self.familiar_name + self._suffix()

    @property
    def is_docker_hub(self) -> bool:
        return self.domain == DEFAULT_DOMAIN

    # -- defaults ----------------------------------------------------------------------------
    def with_default_tag(self) -> Reference:
        """docker's TagNameOnly: add `:latest` only when there is neither a tag nor a digest."""
        if self.tag is None and self.digest is None:
            return replace(self, tag=DEFAULT_TAG)
        return self

    def with_tag(self, tag: str) -> Reference:
        if not TAG_RE.fullmatch(tag):
            raise InvalidReference(ERR_TAG_FORMAT)
        return Reference(self.domain, self.path, tag, None)

    def with_digest(self, digest: Digest) -> Reference:
        return Reference(self.domain, self.path, None, digest)

    def repository(self) -> Reference:
        return Reference(self.domain, self.path)

    @property
    def identifier(self) -> str:
        """What to ask a registry for: the digest when there is one, else the tag."""
        if self.digest is not None:
            return str(self.digest)
        return self.tag or DEFAULT_TAG


def _parse_digest(text: str) -> Digest:
    try:
        return Digest.parse(text)
    except InvalidDigest:
        algorithm, _, encoded = text.partition(":")
        expected = {"sha256": 64, "sha512": 128}.get(algorithm)
        if expected is None:
            raise InvalidReference("unsupported digest algorithm") from None
        if len(encoded) != expected:
            raise InvalidReference("invalid checksum digest length") from None
        raise InvalidReference("invalid checksum digest format") from None


def parse(text: str) -> Reference:
    """distribution/reference `Parse`: no normalisation; the domain may be missing."""
    match = REFERENCE_RE.fullmatch(text)
    if match is None:
        if not text:
            raise InvalidReference(ERR_NAME_EMPTY)
        if REFERENCE_RE.fullmatch(text.lower()):
            raise InvalidReference(ERR_UPPERCASE)
        raise InvalidReference(ERR_INVALID_FORMAT)
    name, tag, digest_text = match.group(1), match.group(2), match.group(3)
    name_match = ANCHORED_NAME_RE.fullmatch(name)
    if name_match is None:  # cannot happen: the reference grammar contains the name grammar
        raise InvalidReference(ERR_INVALID_FORMAT)
    domain, path = name_match.group(1) or "", name_match.group(2)
    if len(path) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidReference(ERR_NAME_TOO_LONG)
    digest = _parse_digest(digest_text) if digest_text else None
    return Reference(domain, path, tag, digest)


def split_docker_domain(name: str) -> tuple[str, str]:
    """Split `name` into (domain, remainder) with docker's rules for what counts as a host."""
    head, sep, tail = name.partition("/")
    if not sep or (not any(c in head for c in ".:") and head != "localhost" and head.lower() == head):
        domain, remainder = DEFAULT_DOMAIN, name
    else:
        domain, remainder = head, tail
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_REPO_PREFIX + remainder
    return domain, remainder


def parse_normalized(text: str) -> Reference:
    """distribution/reference `ParseNormalizedNamed`: `ubuntu` → `docker.io/library/ubuntu`."""
    if IDENTIFIER_RE.fullmatch(text):
        raise InvalidReference(
            f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings"
        )
    domain, remainder = split_docker_domain(text)
    remote = remainder.split(":", 1)[0]
    if remote.lower() != remote:
        raise InvalidReference(f"invalid reference format: repository name ({remote}) must be lowercase")
    ref = parse(f"{domain}/{remainder}")
    if not ref.domain:  # cannot happen: split_docker_domain always yields a domain
        raise InvalidReference(ERR_INVALID_FORMAT)
    return ref


def parse_docker_ref(text: str) -> Reference:
    """docker's `ParseDockerRef`: normalised, `:latest` by default, the digest wins over a tag."""
    ref = parse_normalized(text)
    if ref.digest is not None and ref.tag is not None:
        return ref.with_digest(ref.digest)
    return ref.with_default_tag()


def is_valid_tag(tag: str) -> bool:
    return bool(TAG_RE.fullmatch(tag))
