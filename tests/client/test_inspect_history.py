"""`cargobay inspect` / `image inspect` and `cargobay history` / `image history`."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

sys.path.insert(0, str(Path(__file__).parent))
from store_fixtures import NOW, BuiltImage, output_scene, raw_layer, remove_blobs, write_image, write_index

from cargobay.cli.main import cli
from cargobay.localstore import LocalStore


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalStore]:
    root = tmp_path / "store"
    monkeypatch.setenv("CARGOBAY_HOME", str(root))
    monkeypatch.setenv("CARGOBAY_NOW", str(NOW))
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield LocalStore(root)
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def scene(store: LocalStore) -> dict[str, BuiltImage]:
    return output_scene(store)


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


# -------------------------------------------------------------------------------- inspect


def test_inspect_document(scene: dict[str, BuiltImage]) -> None:
    app = scene["app"]
    result = run("inspect", "127.0.0.1:5000/team/app:v1")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith('[\n    {\n        "Id": "sha256:')
    assert result.stdout.endswith("\n    }\n]\n")
    doc = json.loads(result.stdout)
    assert len(doc) == 1
    item = doc[0]
    assert list(item) == [
        "Id", "RepoTags", "RepoDigests", "Comment", "Created", "Author", "Config", "Architecture",
        "Os", "Size", "GraphDriver", "RootFS", "Metadata", "Descriptor",
    ]  # fmt: skip
    assert item["Id"] == str(app.config_digest)
    assert item["RepoTags"] == ["127.0.0.1:5000/team/app:v1"]
    assert item["RepoDigests"] == [f"127.0.0.1:5000/team/app@{app.manifest.digest}"]
    assert item["Created"] == "2024-01-30T23:00:00Z"
    assert item["Config"] == app.config["config"]
    assert item["Config"]["Labels"] == {"tier": "web", "team": "core"}
    assert (item["Architecture"], item["Os"]) == ("amd64", "linux")
    assert item["Size"] == 1090
    assert item["RootFS"] == {"Type": "layers", "Layers": [app.layers[0].diff_id]}
    assert item["Metadata"]["LastTagTime"].endswith("Z")
    assert item["Descriptor"] == {
        "mediaType": app.manifest.media_type,
        "digest": str(app.manifest.digest),
        "size": app.manifest.size,
    }
    assert run("image", "inspect", app.config_digest.encoded[:12]).stdout == result.stdout
    assert run("inspect", "--format", "json", str(app.config_digest)).stdout == result.stdout


def test_inspect_several_and_missing(scene: dict[str, BuiltImage]) -> None:
    result = run("inspect", "nope")
    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        "[]\n",
        "Error: No such image: nope:latest\n",
    )
    result = run("image", "inspect", "ubuntu", "nope", "debian")
    assert result.exit_code == 1
    assert [d["RepoTags"] for d in json.loads(result.stdout)] == [
        ["ubuntu:latest"],
        ["debian:bookworm", "debian:latest"],
    ]
    assert result.stderr == "Error: No such image: nope:latest\n"


def test_inspect_format(scene: dict[str, BuiltImage]) -> None:
    app = scene["app"]
    assert run("inspect", "-f", "{{.Id}}", "127.0.0.1:5000/team/app:v1").stdout == f"{app.config_digest}\n"
    out = run(
        "image",
        "inspect",
        "--format",
        "{{json .RepoTags}} {{.Config.Labels.tier}} {{.Os}}/{{.Architecture}}",
        "debian",
        "127.0.0.1:5000/team/app:v1",
    )
    assert (
        out.stdout
        == '["debian:bookworm","debian:latest"] <no value> linux/amd64\n["127.0.0.1:5000/team/app:v1"] web linux/amd64\n'
    )
    out = run("inspect", "-f", "{{range .RepoTags}}{{.}} {{end}}{{len .RootFS.Layers}}", "debian")
    assert out.stdout == "debian:bookworm debian:latest 2\n"
    out = run("inspect", "-f", "{{.Nope}}", "debian")
    assert out.stdout == "<no value>\n"
    out = run("inspect", "-f", "{{.Id", "debian")
    assert out.exit_code == 1
    assert out.stderr.startswith("Error: template parsing error: template: ")


def test_inspect_multi_arch(store: LocalStore) -> None:
    amd = write_image(store, arch="amd64")
    arm = write_image(store, arch="arm64", variant="v8", created="2024-01-02T03:04:05.123456789Z")
    index = write_index(store, [amd, arm])
    remove_blobs(store, amd)
    store.add_reference("multi:1", index)
    item = json.loads(run("inspect", "multi:1").stdout)[0]
    assert (item["Architecture"], item["Variant"], item["Os"]) == ("arm64", "v8", "linux")
    assert item["Created"] == "2024-01-02T03:04:05.123456789Z"
    assert item["Descriptor"]["digest"] == str(index.digest)
    assert item["Descriptor"]["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert item["RepoDigests"] == [f"multi@{index.digest}"]


# -------------------------------------------------------------------------------- history


@pytest.fixture
def built(store: LocalStore) -> BuiltImage:
    history = [
        {"created": "1999-12-31T00:00:00Z", "created_by": "RUN\tmake all"},
        {
            "created": "2024-01-26T00:00:00Z",
            "created_by": "/bin/sh -c #(nop) ADD file:ba2637314e600db5a1b2c3d4e5f6a7b8 in / ",
            "comment": "buildkit.dockerfile.v0",
        },
        {
            "created": "2024-01-26T00:00:00Z",
            "created_by": '/bin/sh -c #(nop)  CMD ["bash"]',
            "empty_layer": True,
        },
    ]
    image = write_image(store, layers=[raw_layer(1_090), raw_layer(72_900)], history=history)
    store.add_reference("hist:1", image.manifest)
    return image


def test_history_table(built: BuiltImage) -> None:
    result = run("history", "hist:1")
    assert result.exit_code == 0, result.output
    id12 = built.config_digest.encoded[:12]
    assert result.stdout.split("\n") == [
        "IMAGE          CREATED      CREATED BY                                      SIZE      COMMENT",
        f'{id12}   5 days ago   /bin/sh -c #(nop)  CMD ["bash"]                 0B        ',
        "<missing>      5 days ago   /bin/sh -c #(nop) ADD file:ba2637314e600db5a…   72.9kB    buildkit.dockerfile.v0",
        "<missing>      N/A          RUN make all                                    1.09kB    ",
        "",
    ]
    assert run("image", "history", "hist:1").stdout == result.stdout


def test_history_no_trunc_quiet_and_raw(built: BuiltImage) -> None:
    out = run("history", "--no-trunc", "hist:1").stdout.split("\n")
    assert out[1].startswith(f"{built.config_digest}   5 days ago   ")
    assert "/bin/sh -c #(nop) ADD file:ba2637314e600db5a1b2c3d4e5f6a7b8 in /    72.9kB" in out[2]
    assert (
        run("history", "-q", "hist:1").stdout == f"{built.config_digest.encoded[:12]}\n<missing>\n<missing>\n"
    )
    raw = run("history", "-H=false", "hist:1").stdout.split("\n")
    assert raw[0].split() == ["IMAGE", "CREATED", "AT", "CREATED", "BY", "SIZE", "COMMENT"]
    assert raw[2].split()[:2] == ["<missing>", "2024-01-26T00:00:00Z"]
    assert raw[2].split()[-2:] == ["72900", "buildkit.dockerfile.v0"]
    assert raw[3].split()[1] == "1999-12-31T00:00:00Z"
    assert run("history", "--human=false", "-q", "hist:1").stdout.count("\n") == 3
    assert run("history", "-H", "hist:1").stdout == run("history", "hist:1").stdout  # -H takes no value
    assert run("history", "hist:1", "-H=0").stdout == run("history", "-H=false", "hist:1").stdout
    bad = run("history", "-H=maybe", "hist:1")
    assert bad.exit_code == 2 and "strconv.ParseBool" in bad.stderr
    out = run("history", "--format", "{{.ID}}|{{.Size}}|{{.Comment}}", "hist:1").stdout
    assert out.split("\n")[1:] == ["<missing>|72.9kB|buildkit.dockerfile.v0", "<missing>|1.09kB|", ""]


def test_history_missing(store: LocalStore) -> None:
    result = run("history", "nope")
    assert (result.exit_code, result.stderr) == (1, "Error: No such image: nope:latest\n")
