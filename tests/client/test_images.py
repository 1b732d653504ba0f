"""`cargobay images` against docker's classic output, line by line, on a fixed scene.

The scene (store_fixtures.output_scene), with now = 2024-01-31T00:00:00Z:
  bob/tool@sha256:…      created 30 s before now, 5 B        (digest reference only)
  127.0.0.1:5000/team/app:v1   one hour before, 1,090 B, labels tier=web team=core
  ubuntu:latest          5 days before, 72,900 B           (pulled: tag + digest reference)
  debian:bookworm, debian:latest   8 days before, 124,000 B
  <none>:<none>          a year before, no layers          (dangling)
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

sys.path.insert(0, str(Path(__file__).parent))
from store_fixtures import NOW, BuiltImage, output_scene

from cargobay.cli.main import cli
from cargobay.localstore import LocalStore


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def scene(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, utc: None) -> dict[str, BuiltImage]:
    root = tmp_path / "store"
    monkeypatch.setenv("CARGOBAY_HOME", str(root))
    monkeypatch.setenv("CARGOBAY_NOW", str(NOW))
    return output_scene(LocalStore(root))


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def lines(*args: str) -> list[str]:
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith("\n") or result.stdout == ""
    return result.stdout.split("\n")[:-1]


def ids(scene: dict[str, BuiltImage]) -> dict[str, str]:
    return {k: v.config_digest.encoded[:12] for k, v in scene.items()}


def test_default_table(scene: dict[str, BuiltImage]) -> None:
    i = ids(scene)
    assert lines("images") == [
        "REPOSITORY                TAG        IMAGE ID       CREATED             SIZE",
        f"bob/tool                  <none>     {i['tool']}   30 seconds ago      5B",
        f"127.0.0.1:5000/team/app   v1         {i['app']}   About an hour ago   1.09kB",
        f"ubuntu                    latest     {i['ubuntu']}   5 days ago          72.9kB",
        f"debian                    bookworm   {i['debian']}   8 days ago          124kB",
        f"debian                    latest     {i['debian']}   8 days ago          124kB",
    ]


def test_all_shows_dangling(scene: dict[str, BuiltImage]) -> None:
    out = lines("images", "-a")
    assert len(out) == 7
    assert out[-1] == f"<none>                    <none>     {ids(scene)['old']}   12 months ago       0B"


def test_image_ls_and_list_are_images(scene: dict[str, BuiltImage]) -> None:
    assert lines("image", "ls") == lines("images") == lines("image", "list")
    assert lines("image", "ls", "-a", "debian") == lines("images", "-a", "debian")


def test_digests_column(scene: dict[str, BuiltImage]) -> None:
    i = ids(scene)
    d = {k: str(v.manifest.digest) for k, v in scene.items()}
    pad = " " * 65
    assert lines("images", "--digests") == [
        f"REPOSITORY                TAG        DIGEST{pad}   IMAGE ID       CREATED             SIZE",
        f"bob/tool                  <none>     {d['tool']}   {i['tool']}   30 seconds ago      5B",
        f"127.0.0.1:5000/team/app   v1         {d['app']}   {i['app']}   About an hour ago   1.09kB",
        f"ubuntu                    latest     {d['ubuntu']}   {i['ubuntu']}   5 days ago          72.9kB",
        f"debian                    bookworm   <none>{pad}   {i['debian']}   8 days ago          124kB",
        f"debian                    latest     <none>{pad}   {i['debian']}   8 days ago          124kB",
    ]


def test_quiet_repeats_ids_per_tag(scene: dict[str, BuiltImage]) -> None:
    i = ids(scene)
    assert lines("images", "-q") == [i["tool"], i["app"], i["ubuntu"], i["debian"], i["debian"]]
    assert lines("images", "-qa")[-1] == i["old"]


def test_no_trunc(scene: dict[str, BuiltImage]) -> None:
    out = lines("images", "--no-trunc", "ubuntu")
    assert out[0] == "REPOSITORY   TAG       IMAGE ID" + " " * 66 + "CREATED      SIZE"
    assert out[1] == f"ubuntu       latest    {scene['ubuntu'].config_digest}   5 days ago   72.9kB"


def test_empty_store_prints_the_header(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARGOBAY_HOME", str(tmp_path / "empty"))
    assert lines("images") == ["REPOSITORY   TAG       IMAGE ID   CREATED   SIZE"]
    assert lines("images", "-q") == []


# ------------------------------------------------------------------------------ filters


def repos(*args: str) -> list[str]:
    return lines("images", "--format", "{{.Repository}}:{{.Tag}}", *args)


def test_reference_filters(scene: dict[str, BuiltImage]) -> None:
    assert repos("debian") == ["debian:bookworm", "debian:latest"]
    assert repos("debian:latest") == ["debian:latest"]
    assert repos("deb") == []  # a glob on the whole name, not a substring
    assert repos("--filter", "reference=deb*:book*") == ["debian:bookworm"]
    assert repos("-f", "reference=ubuntu", "-f", "reference=debian:latest") == [
        "ubuntu:latest",
        "debian:latest",
    ]
    assert repos("-f", "reference=docker.io/library/ubuntu:latest") == ["ubuntu:latest"]
    assert repos("-f", "reference=127.0.0.1:5000/*/*") == ["127.0.0.1:5000/team/app:v1"]
    assert repos("-f", "reference=*") == ["ubuntu:latest", "debian:bookworm", "debian:latest"]  # * stops at /


def test_dangling_filter(scene: dict[str, BuiltImage]) -> None:
    # As docker's daemon: with dangling=true, an image without tags passes even if it has digests.
    assert repos("-f", "dangling=true") == ["bob/tool:<none>", "<none>:<none>"]
    assert repos("-f", "dangling=false", "-a") == [
        "bob/tool:<none>",
        "127.0.0.1:5000/team/app:v1",
        "ubuntu:latest",
        "debian:bookworm",
        "debian:latest",
    ]
    result = run("images", "-f", "dangling=maybe")
    assert result.exit_code == 1
    assert result.stderr == "Error: invalid filter 'dangling=[maybe]'\n"


def test_label_filters(scene: dict[str, BuiltImage]) -> None:
    assert repos("-f", "label=tier") == ["127.0.0.1:5000/team/app:v1"]
    assert repos("-f", "label=tier=web", "-f", "label=team=core") == ["127.0.0.1:5000/team/app:v1"]
    assert repos("-f", "label=tier=db") == []
    assert repos("-f", "label!=tier=db") == repos("-a")[:-1]  # every image but the dangling one
    assert repos("-f", "label!=nope", "-f", "label!=team") == repos("-f", "label!=tier")
    assert repos("-f", "label!=tier") == [
        "bob/tool:<none>",
        "ubuntu:latest",
        "debian:bookworm",
        "debian:latest",
    ]


def test_time_filters(scene: dict[str, BuiltImage]) -> None:
    assert repos("-f", "before=ubuntu") == ["debian:bookworm", "debian:latest"]
    assert repos("-f", "since=ubuntu") == ["bob/tool:<none>", "127.0.0.1:5000/team/app:v1"]
    assert repos("-f", f"since={scene['debian'].config_digest.encoded[:12]}", "-f", "before=bob/tool@" + str(
        scene["tool"].manifest.digest
    )) == ["127.0.0.1:5000/team/app:v1", "ubuntu:latest"]  # fmt: skip
    assert repos("-f", "until=2024-01-27T00:00:00Z") == ["ubuntu:latest", "debian:bookworm", "debian:latest"]
    assert repos("-f", "until=48h") == ["ubuntu:latest", "debian:bookworm", "debian:latest"]
    assert repos("-f", "until=1706227200") == ["debian:bookworm", "debian:latest"]  # 2024-01-26T00:00:00Z
    assert repos("-f", "until=10m") == [
        "127.0.0.1:5000/team/app:v1",
        "ubuntu:latest",
        "debian:bookworm",
        "debian:latest",
    ]


def test_filters_combine_with_and(scene: dict[str, BuiltImage]) -> None:
    assert repos("-f", "reference=debian", "-f", "before=ubuntu") == ["debian:bookworm", "debian:latest"]
    assert repos("-f", "reference=ubuntu", "-f", "before=ubuntu") == []


def test_filter_errors(scene: dict[str, BuiltImage]) -> None:
    result = run("images", "--filter", "foo=bar")
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", "Error: invalid filter 'foo'\n")
    result = run("images", "--filter", "nonsense")
    assert result.stderr == "Error: bad format of filter (expected name=value)\n"
    result = run("images", "-f", "before=nope")
    assert result.stderr == "Error: No such image: nope:latest\n"


# ------------------------------------------------------------------------------- formats


def test_format_json_one_object_per_line(scene: dict[str, BuiltImage]) -> None:
    out = lines("images", "--format", "json", "ubuntu")
    assert out == [
        '{"Containers":"N/A","CreatedAt":"2024-01-26 00:00:00 +0000 UTC","CreatedSince":"5 days ago",'
        f'"Digest":"\\u003cnone\\u003e","ID":"{ids(scene)["ubuntu"]}","Repository":"ubuntu","SharedSize":"N/A",'
        '"Size":"72.9kB","Tag":"latest","UniqueSize":"N/A"}'
    ]
    assert lines("images", "--format", "{{json .}}", "ubuntu") == out
    assert json.loads(out[0])["Digest"] == "<none>"


def test_format_table_template(scene: dict[str, BuiltImage]) -> None:
    assert lines("images", "--format", "table {{.Repository}}\\t{{.Size}}\\t{{.CreatedAt}}", "debian") == [
        "REPOSITORY   SIZE      CREATED AT",
        "debian       124kB     2024-01-23 00:00:00 +0000 UTC",
        "debian       124kB     2024-01-23 00:00:00 +0000 UTC",
    ]
    assert lines("images", "--format", "table") == lines("images")
    assert lines("images", "--format", "{{.ID}}\\t{{.Tag}}", "ubuntu") == [f"{ids(scene)['ubuntu']}\tlatest"]


def test_format_with_digest_field(scene: dict[str, BuiltImage]) -> None:
    assert lines("images", "--digests", "--format", "{{.Repository}} {{.Digest}}", "ubuntu") == [
        f"ubuntu {scene['ubuntu'].manifest.digest}"
    ]


def test_format_unknown_field(scene: dict[str, BuiltImage]) -> None:
    result = run("images", "--format", "{{.Nope}}")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: template: ")
    assert "can't evaluate field Nope" in result.stderr


def test_store_written_by_cli_subprocess_is_listed(scene: dict[str, BuiltImage], tmp_path: Path) -> None:
    """The real command, as a process (exercises the lazy command table and the entry point)."""
    import os
    import subprocess

    out = subprocess.run(
        [sys.executable, "-m", "cargobay", "images", "ubuntu"],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.split("\n")[1].startswith("ubuntu       latest    ")


def test_image_group_lists_its_subcommands_and_loads_pull_push_lazily() -> None:
    result = run("image", "--help")
    assert result.exit_code == 0
    listed = {line.split()[0] for line in result.stdout.split("Commands:")[1].splitlines() if line.strip()}
    assert listed == {"history", "inspect", "list", "ls", "prune", "pull", "push", "remove", "rm", "tag"}
    for name in ("pull", "push"):
        sub = run("image", name, "--help")
        assert sub.exit_code == 0
        assert sub.stdout.startswith("Usage: ")


def test_subcommand_name_as_repository_hints(scene: dict[str, BuiltImage]) -> None:
    result = run("images", "ls")
    assert result.exit_code == 0
    assert result.stdout == "REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n"
    assert result.stderr == 'No images found matching "ls": did you mean "cargobay image ls"?\n'


def test_unknown_creation_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from store_fixtures import write_image

    monkeypatch.setenv("CARGOBAY_HOME", str(tmp_path / "s"))
    store = LocalStore(tmp_path / "s")
    image = write_image(store, created="not a time")
    store.add_reference("x:1", image.manifest, digest_reference=False)
    assert lines("images")[1].split() == [
        "x",
        "1",
        image.config_digest.encoded[:12],
        "N/A",
        image_size(store),
    ]
    assert lines("images", "--digests")[1].split() == [
        "x",
        "1",
        "<none>",
        image.config_digest.encoded[:12],
        image_size(store),
    ]
    assert lines("images", "--format", "[{{.CreatedSince}}]") == ["[]"]


def image_size(store: LocalStore) -> str:
    from cargobay.cli import render

    return render.human_size_precision(store.images()[0].size, 3)
