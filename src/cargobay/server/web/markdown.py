"""A repository's README (its full description, Markdown) as HTML that is safe to put in a page.

Markdown is rendered by markdown-it-py (CommonMark, plus GitHub's tables and strikethrough). Raw
HTML is allowed in the source, as on Docker Hub and GitHub, so the output is then cleaned by nh3
(ammonia) to an allow-list:

- tags: text formatting, headings, lists, tables, code, quotes, links, images, details/summary;
  never script, style, iframe, object, embed, form, input, svg, math, …; the content of script
  and style is dropped, other refused tags are unwrapped (their text kept, escaped);
- attributes: no event handlers, no `style`, no `id`/`class` (no clobbering of the page's own
  names); links keep `href` and `title`, images `src`, `alt`, `title`, `width`, `height`;
- URLs: http, https and mailto, or relative; image sources only absolute http(s) URLs (an image
  with any other source loses it); every link gets `rel="noopener noreferrer nofollow"`;
- table cell alignment, which markdown-it writes as a `style`, becomes the `align` attribute;
- headings can be moved down a level or more (`heading_offset`), so that a README's `# Title`
  fits under the page's own headings (h6 at most).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token

LINK_REL = "noopener noreferrer nofollow"
URL_SCHEMES = frozenset({"http", "https", "mailto"})
IMAGE_SOURCE = re.compile(r"https?://[^\s]+", re.IGNORECASE)

ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "bdi", "bdo", "blockquote", "br", "caption", "code", "dd", "del",
        "details", "dfn", "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3",
        "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q",
        "rp", "rt", "ruby", "s", "samp", "small", "span", "strike", "strong", "sub", "summary",
        "sup", "table", "tbody", "td", "tfoot", "th", "thead", "time", "tr", "tt", "u", "ul",
        "var", "wbr",
    }
)  # fmt: skip
CLEAN_CONTENT_TAGS = frozenset({"script", "style", "noscript", "template", "title"})
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "abbr": {"title"},
    "bdo": {"dir"},
    "details": {"open"},
    "ol": {"start", "reversed"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "time": {"datetime"},
}
_ALIGNMENTS = {"left", "center", "right"}
TAG_ATTRIBUTE_VALUES: dict[str, dict[str, set[str]]] = {
    "td": {"align": _ALIGNMENTS},
    "th": {"align": _ALIGNMENTS},
}
_HEADING = re.compile(r"<(/?)h([1-6])>")  # after cleaning, headings carry no attributes
_TEXT_ALIGN = re.compile(r"text-align:\s*(left|center|right)\s*;?")


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    if tag == "img" and attribute == "src":
        return value if IMAGE_SOURCE.fullmatch(value.strip()) else None
    return value


def _alignment_as_attribute(tokens: Sequence[Token]) -> None:
    """markdown-it writes `style="text-align:right"` on table cells; styles are not allowed."""
    for token in tokens:
        if token.type in ("th_open", "td_open"):
            style = token.attrs.pop("style", None)
            found = _TEXT_ALIGN.fullmatch(str(style)) if style is not None else None
            if found:
                token.attrs["align"] = found.group(1)


def _parser() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": True, "linkify": False, "typographer": False})
    parser.enable(["table", "strikethrough"])
    return parser


_MARKDOWN = _parser()


def sanitise_html(html: str) -> str:
    """Clean an HTML fragment to the README allow-list (see the module docstring)."""
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(CLEAN_CONTENT_TAGS),
        attributes=ALLOWED_ATTRIBUTES,
        tag_attribute_values=TAG_ATTRIBUTE_VALUES,
        attribute_filter=_attribute_filter,
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
        generic_attribute_prefixes=set(),
    )


def _shift_headings(html: str, offset: int) -> str:
    def shifted(found: re.Match[str]) -> str:
        return f"<{found.group(1)}h{min(6, int(found.group(2)) + offset)}>"

    return _HEADING.sub(shifted, html) if offset else html


@functools.lru_cache(maxsize=256)
def render_markdown(source: str, *, heading_offset: int = 0) -> str:
    """Markdown (with raw HTML) → sanitised HTML; empty for an empty or blank source.
    `heading_offset` 2 makes `# Title` an h3 (Markdown and raw HTML headings alike)."""
    if not source.strip():
        return ""
    env: dict[str, Any] = {}
    tokens = _MARKDOWN.parse(source, env)
    _alignment_as_attribute(tokens)
    return _shift_headings(
        sanitise_html(_MARKDOWN.renderer.render(tokens, _MARKDOWN.options, env)), heading_offset
    )
