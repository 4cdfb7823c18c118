"""Markdown to safe HTML: rendered once per revision, sanitized with an allow-list (nh3)."""

import html
import re

import markdown
import nh3

ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "dd",
    "del",
    "details",
    "div",
    "dl",
    "dt",
    "em",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "ins",
    "kbd",
    "li",
    "mark",
    "ol",
    "p",
    "pre",
    "s",
    "small",
    "span",
    "strong",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "u",
    "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"align", "colspan", "rowspan"},
    "th": {"align", "colspan", "rowspan", "scope"},
    "h2": {"id"},
    "h3": {"id"},
    "h4": {"id"},
    "ol": {"start"},
}
# No javascript:, data:, vbscript: ... relative URLs stay allowed.
ALLOWED_URL_SCHEMES = {"http", "https", "mailto", "tel"}
EXTENSIONS = ["extra", "sane_lists", "smarty"]
# Block boundaries become spaces in plain text; inline tags (<strong>b</strong>old) do not.
_BLOCK_TAG = re.compile(r"<(/?(?:p|h[1-6]|li|td|th|tr|br|hr|div|pre|blockquote|dt|dd|table)\b)")


_LIST_ITEM = re.compile(r"^\s{0,3}(?:[-*+]|\d{1,3}[.)])\s+\S")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")


def _separate_lists(source: str) -> str:
    """Let a list start right after a paragraph line, as in CommonMark and every editor people
    write in (Python-Markdown needs a blank line there, and would run the items together)."""
    lines, in_fence, previous = [], False, ""
    for line in source.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        elif (
            not in_fence
            and _LIST_ITEM.match(line)
            and previous.strip()
            and not _LIST_ITEM.match(previous)
            and not previous.startswith((" ", "\t"))
        ):
            lines.append("")
        lines.append(line)
        previous = line
    return "\n".join(lines)


def render_markdown(source: str) -> str:
    """Sanitized HTML for a Markdown source. Raw HTML in the source goes through the same filter;
    every link gets ``rel="noopener noreferrer nofollow"``; the article's own title is the page's
    only <h1>, so Markdown level-one headings become <h2>."""
    raw = markdown.markdown(
        _separate_lists(source or ""), extensions=EXTENSIONS, output_format="html"
    )
    raw = raw.replace("<h1", "<h2").replace("</h1>", "</h2>")
    return nh3.clean(
        raw,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def plain_text(safe_html: str) -> str:
    """Text content of sanitized HTML, for snippets, the search index and summaries."""
    stripped = nh3.clean(_BLOCK_TAG.sub(r" <\1", safe_html), tags=set())
    return " ".join(html.unescape(stripped).split())
