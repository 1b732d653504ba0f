"""Reference parsing and normalisation, checked against distribution/reference's behaviour."""

from __future__ import annotations

import pytest

from cargobay.oci.reference import InvalidReference, parse, parse_docker_ref, parse_normalized

HEX = "a" * 64


@pytest.mark.parametrize(
    ("text", "canonical", "familiar"),
    [
        ("ubuntu", "docker.io/library/ubuntu", "ubuntu"),
        ("ubuntu:22.04", "docker.io/library/ubuntu:22.04", "ubuntu:22.04"),
        ("bob/app", "docker.io/bob/app", "bob/app"),
        ("docker.io/ubuntu", "docker.io/library/ubuntu", "ubuntu"),
        ("index.docker.io/ubuntu", "docker.io/library/ubuntu", "ubuntu"),
        ("index.docker.io/bob/app:1", "docker.io/bob/app:1", "bob/app:1"),
        ("registry-1.docker.io/ubuntu", "registry-1.docker.io/ubuntu", "registry-1.docker.io/ubuntu"),
        ("localhost/app", "localhost/app", "localhost/app"),
        ("localhost", "docker.io/library/localhost", "localhost"),
        ("example.com", "docker.io/library/example.com", "example.com"),
        ("localhost:5000/a/b:t", "localhost:5000/a/b:t", "localhost:5000/a/b:t"),
        ("127.0.0.1:5000/test/hello:1", "127.0.0.1:5000/test/hello:1", "127.0.0.1:5000/test/hello:1"),
        ("[::1]:5000/x", "[::1]:5000/x", "[::1]:5000/x"),
        ("Example.com/x", "Example.com/x", "Example.com/x"),
        ("UPPER/foo", "UPPER/foo", "UPPER/foo"),
        ("a/b/c/d", "docker.io/a/b/c/d", "a/b/c/d"),
        ("library/ubuntu", "docker.io/library/ubuntu", "ubuntu"),
        ("docker.io/library/a/b", "docker.io/library/a/b", "library/a/b"),
        ("foo__bar.baz-qux", "docker.io/library/foo__bar.baz-qux", "foo__bar.baz-qux"),
        (f"ubuntu@sha256:{HEX}", f"docker.io/library/ubuntu@sha256:{HEX}", f"ubuntu@sha256:{HEX}"),
        (f"ubuntu:1@sha256:{HEX}", f"docker.io/library/ubuntu:1@sha256:{HEX}", f"ubuntu:1@sha256:{HEX}"),
    ],
)
def test_normalisation(text: str, canonical: str, familiar: str) -> None:
    ref = parse_normalized(text)
    assert str(ref) == canonical
    assert ref.familiar == familiar


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "invalid reference format"),
        ("Foo", "invalid reference format: repository name (library/Foo) must be lowercase"),
        ("bob/Foo:1", "invalid reference format: repository name (bob/Foo) must be lowercase"),
        ("foo:bar:baz", "invalid reference format"),
        ("foo/", "invalid reference format"),
        ("-foo", "invalid reference format"),
        ("foo:" + "a" * 129, "invalid reference format"),
        ("foo@sha256:abc", "invalid reference format"),
        (f"foo@sha256:{'a' * 63}", "invalid checksum digest length"),
        (f"foo@sha256:{'a' * 65}", "invalid checksum digest length"),
        (f"foo@md5:{'a' * 32}", "unsupported digest algorithm"),
        (HEX, f"invalid repository name ({HEX}), cannot specify 64-byte hexadecimal strings"),
        ("a/" + "b" * 254, "repository name must not be more than 255 characters"),
    ],
)
def test_errors(text: str, message: str) -> None:
    with pytest.raises(InvalidReference) as info:
        parse_normalized(text)
    assert str(info.value) == message


def test_length_limit_is_on_the_path_not_the_domain() -> None:
    path = "a/" + "b" * 253  # 255 characters
    assert parse_normalized(f"registry.example.com:5000/{path}").path == path
    assert parse_normalized(path).path == path


def test_parse_without_normalisation() -> None:
    ref = parse("ubuntu")
    assert (ref.domain, ref.path) == ("", "ubuntu")
    assert str(parse("host:5000/a")) == "host:5000/a"
    with pytest.raises(InvalidReference, match="must have at least one component"):
        parse("")
    with pytest.raises(
        InvalidReference, match=r"^invalid reference format: repository name must be lowercase$"
    ):
        parse("Foo")


def test_defaults_and_digest_wins() -> None:
    assert str(parse_docker_ref("ubuntu")) == "docker.io/library/ubuntu:latest"
    assert str(parse_docker_ref(f"ubuntu:1@sha256:{HEX}")) == f"docker.io/library/ubuntu@sha256:{HEX}"
    ref = parse_normalized("ubuntu").with_default_tag()
    assert ref.tag == "latest" and ref.identifier == "latest"
    assert parse_normalized(f"x@sha256:{HEX}").with_default_tag().tag is None
    assert parse_normalized("localhost:5000/a:1").familiar_name == "localhost:5000/a"
    assert parse_normalized("ubuntu").is_docker_hub
