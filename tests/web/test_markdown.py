"""The README renderer: Markdown (CommonMark, tables, strikethrough) with raw HTML, cleaned to an
allow-list, so nothing in a README can run script, restyle the page or post a form."""

from __future__ import annotations

import re
from html import unescape

import pytest

from cargobay.server.web.markdown import LINK_REL, render_markdown, sanitise_html


def test_commonmark_tables_and_strikethrough() -> None:
    html = render_markdown(
        "# Title\n\nSome *emphasis*, **strong**, `code` and ~~gone~~.\n\n"
        "- one\n- two\n\n1. first\n\n> quoted\n\n```sh\necho <hi>\n```\n\n"
        "| left | middle | right |\n|:--|:-:|--:|\n| a | b | c |\n"
    )
    assert "<h1>Title</h1>" in html
    assert "<em>emphasis</em>" in html and "<strong>strong</strong>" in html and "<code>code</code>" in html
    assert "<s>gone</s>" in html
    assert "<ul>\n<li>one</li>" in html and "<ol>\n<li>first</li>" in html
    assert "<blockquote>" in html
    assert "<pre><code>echo &lt;hi&gt;\n</code></pre>" in html
    # alignment arrives as `align`, since styles are not allowed
    assert '<th align="left">left</th>' in html and '<th align="center">middle</th>' in html
    assert '<td align="right">c</td>' in html
    assert "style" not in html


def test_empty_source_is_empty() -> None:
    assert render_markdown("") == ""
    assert render_markdown("  \n\t\n") == ""


def test_raw_html_is_allowed_but_cleaned() -> None:
    html = render_markdown(
        '<details open><summary>More</summary><p align="center">Text <kbd>Ctrl</kbd><sup>1</sup></p></details>'
    )
    assert "<details open" in html and "<summary>More</summary>" in html
    assert "<kbd>Ctrl</kbd>" in html and "<sup>1</sup>" in html
    assert "align" not in html  # not an allowed attribute of p


@pytest.mark.parametrize(
    ("source", "gone"),
    [
        ("<script>alert(1)</script>", "alert"),
        ("<SCRIPT SRC=https://evil.example/x.js></SCRIPT>", "evil"),
        ("<style>body { display: none }</style>", "display"),
        ('<iframe src="https://evil.example/"></iframe>', "iframe"),
        ('<object data="https://evil.example/x.swf"></object>', "object"),
        ('<embed src="https://evil.example/x.swf">', "embed"),
        ('<form action="/logout" method="post"><input name="x"><button>go</button></form>', "<form"),
        ('<svg onload="alert(1)"><circle r="1"/></svg>', "svg"),
        ('<math><mtext><img src=x onerror="alert(1)"></mtext></math>', "onerror"),
        ('<img src="https://ok.example/a.png" onerror="alert(1)">', "onerror"),
        ('<div onclick="alert(1)" onmouseover="alert(2)">x</div>', "alert"),
        ('<p style="position:fixed;top:0">cover</p>', "style"),
        ('<a href="#" id="login" class="button" name="csrf_token">x</a>', "id="),
        ('<meta http-equiv="refresh" content="0;url=https://evil.example">', "refresh"),
        ('<link rel="stylesheet" href="https://evil.example/x.css">', "stylesheet"),
        ('<base href="https://evil.example/">', "base"),
        ("<!-- a comment with <script> -->", "comment"),
        ("<textarea><img src=x onerror=alert(1)></textarea>", "textarea"),
        ("<template><img src=x onerror=alert(1)></template>", "onerror"),
        ('<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>', "onerror"),
    ],
)
def test_dangerous_markup_is_removed(source: str, gone: str) -> None:
    html = render_markdown(source)
    assert gone not in html.lower(), html
    assert not re.search(
        r"<(script|style|iframe|object|embed|form|input|svg|math|meta|link|base)\b", html, re.I
    )
    assert not re.search(r"<[^>]*\son[a-z]+\s*=", html, re.I)


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        " javascript:alert(1)",
        "java&#x09;script:alert(1)",
        "&#106;avascript:alert(1)",
        "vbscript:msgbox(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "file:///etc/passwd",
    ],
)
def test_links_with_other_schemes_lose_their_target(href: str) -> None:
    for source in (f'<a href="{href}">x</a>', f"[x]({href})", f"[x][r]\n\n[r]: {href}"):
        html = render_markdown(source)
        for target in re.findall(r'href="([^"]*)"', html):
            # as a browser reads it: entities decoded, tabs and newlines dropped, leading blanks
            url = re.sub(r"[\t\n\r]", "", unescape(target)).lstrip("\x00 ").lower()
            scheme = re.match(r"([a-z][a-z0-9+.-]*):", url)
            assert scheme is None or scheme.group(1) in ("http", "https", "mailto"), (source, html)


def test_allowed_links_get_rel_and_keep_their_target() -> None:
    html = render_markdown(
        "[web](https://example.com/a?b=1&c=2) [plain](http://example.com) [mail](mailto:a@example.com) "
        '[here](/r/alice/app) [anchor](#usage) <a href="https://example.com" rel="opener" target="_blank">raw</a>'
    )
    assert '<a href="https://example.com/a?b=1&amp;c=2" rel="noopener noreferrer nofollow">web</a>' in html
    assert 'href="http://example.com"' in html and 'href="mailto:a@example.com"' in html
    assert 'href="/r/alice/app"' in html and 'href="#usage"' in html
    assert html.count(f'rel="{LINK_REL}"') == html.count("<a ") == 6
    assert 'opener"' not in html and "target" not in html


def test_images_need_an_absolute_http_source() -> None:
    html = render_markdown(
        "![remote](https://example.com/logo.png) ![plain](http://example.com/x.gif) "
        "![relative](/static/app.css) ![data](data:image/png;base64,AAAA) ![proto](//example.com/x.png)"
    )
    assert '<img src="https://example.com/logo.png" alt="remote">' in html
    assert '<img src="http://example.com/x.gif" alt="plain">' in html
    assert '<img alt="relative">' in html and '<img alt="data">' in html and '<img alt="proto">' in html
    raw = sanitise_html('<img src="javascript:alert(1)" alt="j" width="10" height="20" title="t">')
    assert raw == '<img alt="j" width="10" height="20" title="t">'


def test_text_that_looks_like_html_stays_text_in_code() -> None:
    html = render_markdown("Use `<script>` carefully:\n\n    <img src=x onerror=alert(1)>\n")
    assert "<code>&lt;script&gt;</code>" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<img" not in html


def test_headings_move_down_under_the_pages_own() -> None:
    source = "# One\n\n## Two\n\n##### Five\n\n<h1 onclick='x()'>Raw</h1>\n\n`<h1>` stays text"
    assert render_markdown(source).startswith("<h1>One</h1>")
    html = render_markdown(source, heading_offset=2)
    assert "<h3>One</h3>" in html and "<h4>Two</h4>" in html and "<h6>Five</h6>" in html
    assert "<h3>Raw</h3>" in html and "<h1" not in html
    assert "<code>&lt;h1&gt;</code>" in html
