"""docker's rendering rules: go-units sizes and durations, tabwriter, Ellipsis, Go templates."""

from __future__ import annotations

import pytest

from cargobay.cli import render

# --------------------------------------------------------------------------------- sizes


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0B"),
        (1, "1B"),
        (999, "999B"),
        (1000, "1kB"),
        (1089, "1.09kB"),
        (5_610_000, "5.61MB"),
        (72_900_000, "72.9MB"),
        (124_000_000, "124MB"),
        (123_999_999, "124MB"),
        (1_090_000_000, "1.09GB"),
        (999_500, "1e+03kB"),  # docker's quirk: %.3g of 999.5
        (100_000, "100kB"),
        (10**15, "1PB"),
    ],
)
def test_human_size_precision_3(size: int, text: str) -> None:
    assert render.human_size_precision(size, 3) == text


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0B"), (16_430_000, "16.43MB"), (1_556, "1.556kB"), (2_000_000_000, "2GB"), (12_345_678, "12.35MB")],
)
def test_human_size(size: int, text: str) -> None:
    assert render.human_size(size) == text


# ------------------------------------------------------------------------------ durations

MIN = 60
HOUR = 3600
DAY = 86400


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "Less than a second"),
        (0.5, "Less than a second"),
        (1, "1 second"),
        (2, "2 seconds"),
        (59, "59 seconds"),
        (60, "About a minute"),
        (119, "About a minute"),
        (120, "2 minutes"),
        (59 * MIN + 59, "59 minutes"),
        (HOUR, "About an hour"),
        (HOUR + 29 * MIN, "About an hour"),
        (HOUR + 30 * MIN, "2 hours"),
        (47 * HOUR, "47 hours"),
        (47 * HOUR + 31 * MIN, "2 days"),  # hours are rounded before the comparison
        (48 * HOUR, "2 days"),
        (13 * DAY, "13 days"),
        (14 * DAY, "2 weeks"),
        (59 * DAY, "8 weeks"),
        (60 * DAY, "2 months"),
        (729 * DAY, "24 months"),
        (730 * DAY, "2 years"),
        (3651 * DAY, "10 years"),
    ],
)
def test_human_duration(seconds: float, text: str) -> None:
    assert render.human_duration(seconds) == text


def test_since_uses_now() -> None:
    assert render.since(1000, 1000 + 8 * DAY) == "8 days ago"


def test_now_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARGOBAY_NOW", "2024-01-31T00:00:00Z")
    assert render.now() == 1_706_659_200
    monkeypatch.setenv("CARGOBAY_NOW", "1706659200")
    assert render.now() == 1_706_659_200


# ------------------------------------------------------------------------------ tabwriter


def test_tabwriter_minwidth_and_padding() -> None:
    text = "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\ndebian\tbookworm\t4eacea30377a\t8 days ago\t124MB\n"
    assert render.tabwrite(text).splitlines() == [
        "REPOSITORY   TAG        IMAGE ID       CREATED      SIZE",
        "debian       bookworm   4eacea30377a   8 days ago   124MB",
    ]


def test_tabwriter_trailing_empty_cell_is_padded() -> None:
    # docker history rows end with the padded SIZE cell and an empty COMMENT.
    out = render.tabwrite("IMAGE\tSIZE\tCOMMENT\nabc\t0B\t\n")
    assert out.split("\n") == ["IMAGE     SIZE      COMMENT", "abc       0B        ", ""]


def test_tabwriter_blocks_like_go() -> None:
    # Go computes a column's width over consecutive lines that have the column.
    out = render.tabwrite("a\tb\tc\nlonger-than-ten\tx\ny\n")
    assert out.split("\n") == ["a" + " " * 17 + "b" + " " * 9 + "c", "longer-than-ten   x", "y", ""]


def test_table_helper() -> None:
    assert render.table(["A", "B"], [["1", "2"]]) == "A         B\n1         2\n"


# ------------------------------------------------------------------------------- ellipsis


def test_ellipsis() -> None:
    long = "/bin/sh -c #(nop) ADD file:ba2637314e600db5a1b2c3d4e5f in / "
    assert render.ellipsis(long, 45) == "/bin/sh -c #(nop) ADD file:ba2637314e600db5a…"
    assert len(render.ellipsis(long, 45)) == 45
    assert render.ellipsis("short", 45) == "short"
    assert render.ellipsis("日本語日本語", 5) == "日本…"
    assert render.ellipsis("abc", 1) == "a"
    assert render.ellipsis("abc", 0) == ""


def test_truncate_id() -> None:
    assert render.truncate_id("sha256:" + "ab" * 32) == "abababababab"
    assert render.truncate_id("<missing>") == "<missing>"


# ------------------------------------------------------------------------------ templates


class Ctx(render.Struct):
    type_name = "*formatter.imageContext"


def ctx() -> Ctx:
    return Ctx(
        {
            "Repository": "busybox",
            "Tag": "latest",
            "ID": "4dd97cefde62",
            "Digest": "<none>",
            "Size": lambda: "1B",
        }
    )


def test_template_fields_and_text() -> None:
    assert render.render_template("{{.Repository}}:{{.Tag}} {{.ID}}", ctx()) == "busybox:latest 4dd97cefde62"


def test_template_json_of_context_escapes_html_and_sorts() -> None:
    out = render.render_template("{{json .}}", ctx())
    assert (
        out
        == '{"Digest":"\\u003cnone\\u003e","ID":"4dd97cefde62","Repository":"busybox","Size":"1B","Tag":"latest"}'
    )
    assert render.render_template("json", ctx()) == out


def test_template_json_of_value_does_not_escape() -> None:
    assert render.render_template("{{json .Digest}}", ctx()) == '"<none>"'


def test_template_unknown_field_is_an_error() -> None:
    with pytest.raises(render.TemplateError, match="can't evaluate field Nope"):
        render.render_template("{{.Nope}}", ctx())


def test_template_map_missing_key_is_no_value() -> None:
    assert render.render_template("{{.A}} {{.B}}", {"A": 1}) == "1 <no value>"


def test_template_control_and_functions() -> None:
    doc = {
        "RepoTags": ["a:1", "b:2"],
        "Config": {"Env": ["X=1"], "Labels": {"b": "2", "a": "1"}},
        "Empty": [],
        "Size": 10,
    }
    assert render.render_template("{{range .RepoTags}}[{{.}}]{{end}}", doc) == "[a:1][b:2]"
    assert render.render_template("{{range $i, $t := .RepoTags}}{{$i}}={{$t}} {{end}}", doc) == "0=a:1 1=b:2 "
    assert render.render_template("{{if .Empty}}yes{{else}}no{{end}}", doc) == "no"
    assert render.render_template("{{if eq .Size 10}}ten{{end}}", doc) == "ten"
    assert render.render_template("{{index .RepoTags 1}}", doc) == "b:2"
    assert render.render_template('{{index .Config.Labels "a"}}', doc) == "1"
    assert render.render_template("{{len .RepoTags}}", doc) == "2"
    assert render.render_template('{{join .RepoTags ", "}}', doc) == "a:1, b:2"
    assert render.render_template("{{.Config.Labels}}", doc) == "map[a:1 b:2]"
    assert render.render_template("{{.RepoTags}}", doc) == "[a:1 b:2]"
    assert render.render_template("{{json .Config}}", doc) == '{"Env":["X=1"],"Labels":{"b":"2","a":"1"}}'
    assert render.render_template("{{.Config.Env | json}}", doc) == '["X=1"]'
    assert render.render_template("{{upper (index .RepoTags 0)}}", doc) == "A:1"
    assert render.render_template("{{with .Config}}{{.Env}}{{end}}", doc) == "[X=1]"
    assert render.render_template('{{printf "%s-%d" "x" .Size}}', doc) == "x-10"
    assert render.render_template("a {{- /* note */ -}} b", doc) == "ab"
    assert render.render_template("{{- .Size }}\\t{{.Size -}}  ", doc) == "10\t10"


def test_template_rejects_unknown_functions_and_python() -> None:
    with pytest.raises(render.TemplateError, match='function "eval" not defined'):
        render.render_template("{{eval .X}}", {})
    with pytest.raises(render.TemplateError):
        render.render_template("{{__import__('os')}}", {})
    with pytest.raises(render.TemplateError, match="unclosed action"):
        render.render_template("{{.X", {})


def test_format_rows_table_with_header() -> None:
    rows = [
        ctx(),
        Ctx({"Repository": "a-much-longer-name", "Tag": "v1", "ID": "x", "Digest": "", "Size": "2B"}),
    ]
    out = render.format_rows(
        "table {{.Repository}}\t{{.Tag}}", rows, {"Repository": "REPOSITORY", "Tag": "TAG"}
    )
    assert out.split("\n") == [
        "REPOSITORY           TAG",
        "busybox              latest",
        "a-much-longer-name   v1",
        "",
    ]


def test_format_rows_plain_has_no_header() -> None:
    assert render.format_rows("{{.ID}}", [ctx()], {"ID": "IMAGE ID"}) == "4dd97cefde62\n"


def test_go_json_matches_encoding_json() -> None:
    assert render.go_json({"a": "<é&>"}) == '{"a":"\\u003cé\\u0026\\u003e"}'
    assert render.go_json([], indent=4) == "[]"
    assert render.go_json([{"a": []}], indent=4) == '[\n    {\n        "a": []\n    }\n]'


def test_printf_verbs() -> None:
    doc = {"Tag": "v1", "Size": 42}
    assert (
        render.render_template('{{printf "%-6s|%5d|%05d|%q|%%" .Tag .Size .Size .Tag}}', doc)
        == 'v1    |   42|00042|"v1"|%'
    )
    assert render.render_template('{{.Tag | printf "[%4s]"}}', doc) == "[  v1]"
    assert render.render_template('{{printf "%.1s %x %.2f" .Tag .Size 1.5}}', doc) == "v 2a 1.50"
