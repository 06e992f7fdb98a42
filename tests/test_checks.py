"""The e-mail checks: all pass on the real sample, and each one fails on a minimal mutation.

Every failing case starts from `page()`, a small e-mail that passes every check, and changes
exactly one thing; `only_problem()` then asserts that the intended check, and no other, reacts.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mailer.render.checks import (
    GMAIL_CLIP_BYTES,
    GMAIL_STYLE_BYTES,
    SIZE_WARNING_BYTES,
    CheckResult,
    Status,
    run_checks,
)
from mailer.render.preview import render_to_directory
from mailer.wiring import Services

SIZE = "HTML size (encoded)"
STYLE = "style size"
LANG = "<html lang>"
ALT = "image alt text"
REMOTE = "no remote CSS or fonts"
MEDIA = "@media kept"
LINKS = "links"
FONT = "body text ≥ 14px"
TEXT = "text part"
ALL_CHECKS = {SIZE, STYLE, LANG, ALT, REMOTE, MEDIA, LINKS, FONT, TEXT}

CSS = (
    "p { margin: 0 0 16px 0; }\n"
    "@media only screen and (max-width: 480px) { .wrapper { padding: 0 !important; } }\n"
)
CONTENT = (
    "<p>Bonjour, voici les nouvelles de la fédération.</p>"
    '<p><a href="https://www.example.org/actualites">Lire la suite</a></p>'
)


def page(
    *,
    lang: str | None = "fr",
    head: str = "",
    css: str = CSS,
    content: str = CONTENT,
    extra: str = "",
) -> str:
    """A minimal e-mail that passes every check; each argument changes one aspect of it."""
    lang_attribute = "" if lang is None else f' lang="{lang}"'
    return (
        f"<!doctype html>\n<html{lang_attribute}><head>"
        '<meta http-equiv="Content-Type" content="text/html; charset=UTF-8">'
        f'<title>Lettre</title>{head}<style type="text/css">{css}</style></head>'
        f'<body><div class="wrapper" style="font-size:16px">{content}{extra}</div></body></html>'
    )


def check(
    html: str,
    *,
    size: int = 20_000,
    text: str = "Bonjour, voici les nouvelles.",
    language: str = "fr",
) -> dict[str, CheckResult]:
    results = run_checks(html=html, encoded_html_size=size, text=text, language=language)
    assert {r.name for r in results} == ALL_CHECKS
    return {r.name: r for r in results}


def only_problem(results: dict[str, CheckResult], name: str, status: Status = Status.FAIL) -> None:
    """`name` has `status`; every other check stays OK (the mutation touched one thing)."""
    assert results[name].status is status, results[name]
    others = {n: r for n, r in results.items() if n != name and r.status is not Status.OK}
    assert not others, others


# ------------------------------------------------------------------ the real sample


def test_real_sample_passes_every_check(
    services: Services, example_issue: Path, tmp_path: Path
) -> None:
    report = render_to_directory(
        example_issue, tmp_path, config=services.config, templates=services.templates
    )
    assert {c.name for c in report.checks} == ALL_CHECKS
    bad = [c for c in report.checks if c.status not in (Status.OK, Status.WARN)]
    assert not bad, bad
    assert not report.failed


def test_minimal_page_passes_every_check() -> None:
    results = check(page())
    assert all(r.status is Status.OK for r in results.values()), results


# ------------------------------------------------------------------ size


@pytest.mark.parametrize(
    ("size", "status"),
    [
        (SIZE_WARNING_BYTES - 1, Status.OK),
        (SIZE_WARNING_BYTES, Status.WARN),
        (GMAIL_CLIP_BYTES - 1, Status.WARN),
        (GMAIL_CLIP_BYTES, Status.FAIL),
        (250_000, Status.FAIL),
    ],
)
def test_encoded_size_thresholds(size: int, status: Status) -> None:
    assert GMAIL_CLIP_BYTES == 102_000
    assert SIZE_WARNING_BYTES == 90_000
    results = check(page(), size=size)
    if status is Status.OK:
        assert results[SIZE].status is Status.OK
    else:
        only_problem(results, SIZE, status)


# ------------------------------------------------------------------ <style> budget


def _css_of_total_size(total: int) -> str:
    filler = total - len(CSS.encode("utf-8")) - len("/**/")
    return CSS + "/*" + "x" * filler + "*/"


def test_style_at_the_limit_passes() -> None:
    css = _css_of_total_size(GMAIL_STYLE_BYTES)
    assert len(css.encode("utf-8")) == GMAIL_STYLE_BYTES == 16_384
    assert check(page(css=css))[STYLE].status is Status.OK


def test_style_over_16_kb_fails() -> None:
    only_problem(check(page(css=_css_of_total_size(GMAIL_STYLE_BYTES + 1))), STYLE)


def test_style_budget_counts_every_style_block() -> None:
    half = "/*" + "x" * 9_000 + "*/"
    head = f"<style>{half}</style><style>{half}</style>"
    only_problem(check(page(head=head)), STYLE)


# ------------------------------------------------------------------ <html lang>


def test_lang_is_compared_case_insensitively() -> None:
    assert check(page(lang="FR"))[LANG].status is Status.OK


def test_lang_mismatch_fails() -> None:
    only_problem(check(page(lang="en")), LANG)


def test_missing_lang_fails() -> None:
    only_problem(check(page(lang=None)), LANG)


# ------------------------------------------------------------------ alt text


def test_image_with_alt_passes() -> None:
    image = '<img src="https://www.example.org/logo.png" width="180" alt="UNIPSO">'
    assert check(page(extra=image))[ALT].status is Status.OK


@pytest.mark.parametrize("alt", [None, "", "   "], ids=["no-alt", "empty-alt", "blank-alt"])
def test_image_without_alt_fails(alt: str | None) -> None:
    attribute = "" if alt is None else f' alt="{alt}"'
    image = f'<img src="https://www.example.org/logo.png" width="180"{attribute}>'
    only_problem(check(page(extra=image)), ALT)


# ------------------------------------------------------------------ remote CSS and fonts


def test_remote_stylesheet_link_fails() -> None:
    head = '<link rel="stylesheet" href="https://fonts.example.org/css?family=Roboto">'
    only_problem(check(page(head=head)), REMOTE)


def test_css_import_fails() -> None:
    only_problem(check(page(css='@import url("https://cdn.example.org/x.css");\n' + CSS)), REMOTE)


@pytest.mark.parametrize(
    "source",
    [
        "url(https://fonts.example.org/roboto.woff2)",
        "url('http://fonts.example.org/roboto.woff2')",
        'url("//fonts.example.org/roboto.woff2")',
    ],
)
def test_remote_font_face_fails(source: str) -> None:
    css = f"@font-face {{ font-family: 'Roboto'; src: {source} format('woff2'); }}\n" + CSS
    only_problem(check(page(css=css)), REMOTE)


def test_local_font_face_passes() -> None:
    css = "@font-face { font-family: 'Body'; src: local('Arial'); }\n" + CSS
    assert check(page(css=css))[REMOTE].status is Status.OK


# ------------------------------------------------------------------ @media


def test_no_media_query_fails() -> None:
    only_problem(check(page(css="p { margin: 0 0 16px 0; }")), MEDIA)


# ------------------------------------------------------------------ links


def _link(href: str) -> str:
    return f'<p><a href="{href}">un lien</a></p>'


@pytest.mark.parametrize(
    "href",
    [
        "",
        "   ",
        "page.html",
        "/relative/page.html",
        "//www.example.org/no-scheme",
        "javascript:alert(1)",
        "#missing",
        "#",
        "mailto:",
        "ftp://files.example.org/x",
    ],
)
def test_bad_link_fails(href: str) -> None:
    only_problem(check(page(extra=_link(href))), LINKS)


def test_link_without_href_fails() -> None:
    only_problem(check(page(extra="<p><a>un lien</a></p>")), LINKS)


@pytest.mark.parametrize(
    "href",
    [
        "https://www.example.org/page?a=1&b=2",
        "http://www.example.org",
        "mailto:a@b.org",
        "tel:+3281249022",
    ],
)
def test_good_link_passes(href: str) -> None:
    assert check(page(extra=_link(href)))[LINKS].status is Status.OK


def test_anchor_to_an_existing_id_passes() -> None:
    extra = _link("#present") + '<h2 id="present">Ancre</h2>'
    assert check(page(extra=extra))[LINKS].status is Status.OK


def test_named_anchor_target_is_not_an_empty_link() -> None:
    """An `<a id=… name=…>` jump target (a common Outlook-safe pattern) has no href.

    It is not a link at all, so it must not be reported as "empty link".
    """
    extra = _link("#present") + '<a id="present" name="present"></a><h2>Ancre</h2>'
    assert check(page(extra=extra))[LINKS].status is Status.OK


# ------------------------------------------------------------------ font size


def _text(style: str, tag: str = "p") -> str:
    return f'<{tag} style="{style}">Un petit texte difficile à lire</{tag}>'


@pytest.mark.parametrize(
    "style",
    [
        "font-size:12px",
        "font-size:0.8em",  # 0.8 x 16px = 12.8px
        "font-size:10pt",  # 13.3px
        "font-size:0.75rem",  # 12px
        "font-size:80%",  # 12.8px
        "color:#555; font-size: 13px; line-height: 1.4",
    ],
)
def test_small_text_fails(style: str) -> None:
    only_problem(check(page(extra=_text(style))), FONT)


def test_em_is_relative_to_the_parent() -> None:
    # 0.9em of 15px = 13.5px, although 0.9em of the 16px default would be 14.4px.
    extra = f'<div style="font-size:15px">{_text("font-size:0.9em")}</div>'
    only_problem(check(page(extra=extra)), FONT)


def test_small_element_fails() -> None:
    only_problem(check(page(extra="<p><small>Mentions légales</small></p>")), FONT)


def test_small_tail_text_fails() -> None:
    extra = '<div style="font-size:12px"><b>Note</b> : texte qui suit en 12px</div>'
    only_problem(check(page(extra=extra)), FONT)


@pytest.mark.parametrize(
    "style", ["font-size:14px", "font-size:0.875em", "font-size:11pt", "font-size:18px"]
)
def test_readable_text_passes(style: str) -> None:
    results = check(page(extra=_text(style)))
    assert results[FONT].status is Status.OK, results[FONT]


def test_hidden_preheader_does_not_count() -> None:
    preheader = (
        '<div style="display:none;font-size:1px;color:#ffffff;line-height:1px;'
        'max-height:0px;max-width:0px;opacity:0;overflow:hidden;">Le résumé de la lettre</div>'
    )
    results = check(page(extra=preheader))
    assert results[FONT].status is Status.OK, results[FONT]
    assert results[FONT].detail == "smallest text is 16px"


def test_text_hidden_only_from_outlook_still_counts() -> None:
    """`mso-hide:all` hides an element in Outlook only: every other client shows it."""
    extra = _text("mso-hide:all; font-size:10px", tag="div")
    only_problem(check(page(extra=extra)), FONT)


def test_page_without_visible_text_fails() -> None:
    only_problem(check(page(content='<p style="display:none">caché</p>')), FONT)


# ------------------------------------------------------------------ text part


@pytest.mark.parametrize("text", ["", "   ", "\r\n\t \n"])
def test_empty_text_part_fails(text: str) -> None:
    only_problem(check(page(), text=text), TEXT)
