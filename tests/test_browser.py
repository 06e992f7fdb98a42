"""The rendered sample in a real browser (Debian's Chromium through Playwright).

What a reader sees on a phone (375 px) and in a desktop client's reading pane (600 px):
no horizontal scrolling, no text under 14 px, working in-message anchors.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from mailer.render.checks import MIN_FONT_PX
from mailer.render.preview import render_to_directory
from mailer.wiring import Services

pytestmark = pytest.mark.chromium

WIDTHS = (375, 600)

# The smallest computed font-size among visible elements that hold a direct, non-empty text node.
SMALLEST_TEXT_JS = """
() => {
  let smallest = null;
  let counted = 0;
  for (const element of document.body.querySelectorAll('*')) {
    const ownText = Array.from(element.childNodes)
      .filter((node) => node.nodeType === Node.TEXT_NODE)
      .map((node) => node.textContent)
      .join('')
      .trim();
    if (!ownText) continue;
    const style = getComputedStyle(element);
    if (style.display === 'none') continue;
    const box = element.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    counted += 1;
    const size = parseFloat(style.fontSize);
    if (smallest === null || size < smallest.size) {
      smallest = { size, tag: element.tagName.toLowerCase(), text: ownText.slice(0, 60) };
    }
  }
  return { smallest, counted };
}
"""

ANCHORS_JS = """
() => Array.from(document.querySelectorAll('a[href^="#"]')).map((a) => {
  const id = decodeURIComponent(a.getAttribute('href').slice(1));
  return { href: a.getAttribute('href'), exists: document.getElementById(id) !== null };
})
"""


@pytest.fixture(scope="module")
def rendered(
    services: Services, example_issue: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    out = tmp_path_factory.mktemp("browser")
    render_to_directory(example_issue, out, config=services.config, templates=services.templates)
    index = out / "index.html"
    assert index.is_file()
    return index


@contextmanager
def open_page(browser: Any, index: Path, width: int) -> Iterator[Any]:
    page = browser.new_page(viewport={"width": width, "height": 800})
    try:
        page.goto(index.as_uri(), wait_until="load")
        yield page
    finally:
        page.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_no_horizontal_scrolling(browser: Any, rendered: Path, width: int) -> None:
    with open_page(browser, rendered, width) as page:
        scroll_width = page.evaluate("() => document.documentElement.scrollWidth")
        body_width = page.evaluate("() => document.body.scrollWidth")
    assert scroll_width <= width
    assert body_width <= width


@pytest.mark.parametrize("width", WIDTHS)
def test_visible_text_is_at_least_14px(browser: Any, rendered: Path, width: int) -> None:
    with open_page(browser, rendered, width) as page:
        result = page.evaluate(SMALLEST_TEXT_JS)
    assert result["counted"] > 50, result  # the walk really saw the issue's text
    smallest = result["smallest"]
    assert smallest["size"] >= MIN_FONT_PX, smallest


@pytest.mark.parametrize("width", WIDTHS)
def test_full_page_screenshot(browser: Any, rendered: Path, tmp_path: Path, width: int) -> None:
    path = tmp_path / f"screenshot-{width}.png"
    with open_page(browser, rendered, width) as page:
        page.screenshot(path=str(path), full_page=True)
        height = page.evaluate("() => document.documentElement.scrollHeight")
    assert path.is_file()
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 10_000
    # PNG IHDR: width and height as big-endian integers at offsets 16 and 20.
    assert int.from_bytes(data[16:20], "big") == width
    assert int.from_bytes(data[20:24], "big") >= min(height, 800)


def test_every_in_message_anchor_has_a_target(browser: Any, rendered: Path) -> None:
    with open_page(browser, rendered, 600) as page:
        anchors = page.evaluate(ANCHORS_JS)
    assert len(anchors) >= 5, anchors
    missing = [a["href"] for a in anchors if not a["exists"]]
    assert not missing, missing


@pytest.mark.parametrize("width", WIDTHS)
def test_clicking_a_toc_link_scrolls_to_its_target(
    browser: Any, rendered: Path, width: int
) -> None:
    with open_page(browser, rendered, width) as page:
        link = page.locator('a[href^="#"]').first
        href = link.get_attribute("href")
        assert href
        assert href != "#"
        link.click()
        page.wait_for_function("(hash) => location.hash === hash", arg=href)
        target = page.evaluate(
            """(id) => {
                const el = document.getElementById(id);
                return el && { top: el.getBoundingClientRect().top, scrollY: window.scrollY };
            }""",
            href[1:],
        )
    assert target is not None, f"{href} points to no element"
    assert target["scrollY"] > 0
    assert abs(target["top"]) < 5, target


OTHER_ISSUES = ("nl-sample.md", "stress-en.md")  # images, long words and URLs, nested lists


@pytest.mark.parametrize("name", OTHER_ISSUES)
def test_other_issues_fit_a_phone(
    browser: Any, services: Services, tmp_path: Path, name: str
) -> None:
    """A full-width image (a 552 px width attribute for Outlook) or an unbreakable word must
    not widen the layout past a 375 px phone screen."""
    issue = Path(__file__).parent / "issues" / name
    report = render_to_directory(
        issue, tmp_path, config=services.config, templates=services.templates
    )
    assert not report.failed, [c for c in report.checks if c.status.value != "ok"]
    with open_page(browser, tmp_path / "index.html", 375) as page:
        scroll_width = page.evaluate("() => document.documentElement.scrollWidth")
        images = page.evaluate(
            "() => Array.from(document.images).map(i => i.getBoundingClientRect().width)"
        )
    assert scroll_width <= 375
    assert all(0 < width <= 375 for width in images), images
