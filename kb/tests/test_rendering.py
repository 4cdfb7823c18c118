import pytest

from kb.rendering import plain_text, render_markdown

ATTACKS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](  javascript:alert(1))",
    "![img](data:image/svg+xml;base64,PHN2Zz48c2NyaXB0PmFsZXJ0KDEpPC9zY3JpcHQ+PC9zdmc+)",
    '<a href="data:text/html,<script>alert(1)</script>">x</a>',
    '<iframe src="https://evil.example"></iframe>',
    "<svg><script>alert(1)</script></svg>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    '<p onclick="alert(1)">x</p>',
    "<object data=x></object><embed src=x>",
    '<form action="https://evil.example"><input name=a></form>',
    "<style>body{display:none}</style>",
    '<a href="vbscript:msgbox(1)">x</a>',
    '[x](https://ok.example "title" onmouseover=alert(1))',
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_markdown_xss_attempts_are_neutralized(attack):
    html = render_markdown(f"Text before\n\n{attack}\n\nText after").lower()
    for forbidden in ("<script", "javascript:", "vbscript:", "data:", "onerror", "onclick",
                      "onmouseover", "<iframe", "<svg", "<object", "<embed", "<form", "<style",
                      "style="):  # fmt: skip
        assert forbidden not in html, (attack, html)
    assert "text before" in html
    assert "text after" in html


def test_links_get_safe_rel_and_keep_http_urls():
    html = render_markdown("[shop](https://shop.example/x) and [faq](/en/articles/faq/)")
    assert 'href="https://shop.example/x"' in html
    assert 'href="/en/articles/faq/"' in html
    assert html.count('rel="noopener noreferrer nofollow"') == 2


def test_markdown_features_render():
    html = render_markdown(
        "# Title\n\n## Steps\nIntro:\n- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n**bold** `code`"
    )
    assert "<h2>Title</h2>" in html  # the page title is the only <h1>
    assert "<ul>" in html
    assert "<li>one</li>" in html
    assert "<table>" in html
    assert "<strong>bold</strong>" in html
    assert "<code>code</code>" in html


def test_plain_text_keeps_words_apart_and_unescapes():
    assert plain_text(render_markdown("**Re**fund\n\n- A & B\n- C < D")) == "Refund A & B C < D"
