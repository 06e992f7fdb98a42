"""The issue source format: the bundled sample, what rendering keeps, every error, the CLI.

Bad inputs are built from a small valid issue whose lines are known:

    1 +++            5 subject        9  (blank)          13 (blank)
    2 newsletter     6 preheader      10 # Section        14 first line of the body
    3 number         7 language       11 (blank)
    4 date           8 +++            12 ## RUBRIQUE | Titre
"""

from __future__ import annotations

import datetime as dt
import html
import os
import re
import subprocess
from pathlib import Path

import pytest

from mailer.errors import IssueFormatError
from mailer.issues.format import parse_issue, read_issue
from mailer.issues.model import (
    BulletList,
    FootnoteRef,
    Image,
    Issue,
    LineBreak,
    MeetingList,
    OrderedList,
    Paragraph,
    Quote,
    Strong,
    Subheading,
    iter_links,
    plain_text,
)
from mailer.render.preview import render_to_directory
from mailer.wiring import Services

NL_SAMPLE = Path(__file__).resolve().parent / "issues" / "nl-sample.md"

FRONT = """\
+++
newsletter = "Test"
number = 3
date = 2021-05-01
subject = "Sujet"
preheader = "Un aperçu"
language = "fr"
+++
"""
HEAD = "\n# Section\n\n## RUBRIQUE | Titre\n\n"
REQUIRED_KEYS = ("newsletter", "number", "date", "subject", "preheader", "language")
HTML_HINT = "*emphasis*"


def _doc(body: str) -> str:
    """A valid front matter and article heading, then `body` from line 14."""
    return FRONT + HEAD + body


def _front(old: str, new: str) -> str:
    """The base issue with one front-matter line changed."""
    assert old in FRONT
    return FRONT.replace(old, new) + HEAD + "Texte.\n"


def _without(key: str) -> str:
    lines = [line for line in FRONT.splitlines(keepends=True) if not line.startswith(f"{key} ")]
    return "".join(lines) + HEAD + "Texte.\n"


def _fence(kind: str, toml: str) -> str:
    return _doc(f"Texte.\n\n```{kind}\n{toml}```\n")  # the fence opens on line 16


def _squash(text: str) -> str:
    """`text` without any whitespace: compares content across line wrapping."""
    return "".join(text.split())


def _normalise(text: str) -> str:
    """Unescape entities, make non-breaking spaces plain, collapse whitespace runs."""
    return re.sub(r"\s+", " ", html.unescape(text).replace("\xa0", " "))


def _html_text(markup: str) -> str:
    return _normalise(re.sub(r"<[^>]*>", "", markup))


def _image_sources(issue: Issue) -> set[str]:
    blocks = [*issue.intro, *(block for article in issue.articles for block in article.body)]
    return {block.src for block in blocks if isinstance(block, Image)}


def _footnote_refs(node: object) -> list[int]:
    """Footnote numbers in reading order under a block, an inline or a tuple of them."""
    if isinstance(node, FootnoteRef):
        return [node.number]
    if isinstance(node, tuple):
        return [number for child in node for number in _footnote_refs(child)]
    return _footnote_refs(getattr(node, "children", getattr(node, "items", ())))


# ---------------------------------------------------------------- the bundled sample


@pytest.fixture(scope="module")
def sample(example_issue: Path) -> Issue:
    return read_issue(example_issue)


def test_sample_front_matter(sample: Issue) -> None:
    front = sample.front
    assert front.newsletter == "#ActuUNIPSO"
    assert front.number == "1"
    assert front.date == dt.date(2020, 1, 31)
    assert front.language == "fr"
    assert front.subject.startswith("#ActuUNIPSO – janvier 2020")
    assert sample.footer.publisher == "UNIPSO"
    assert len(sample.footer.editors) == 5
    assert sample.intro == ()


def test_sample_sections_in_order(sample: Issue) -> None:
    titles = [section.title for section in sample.sections]
    assert titles == ["Dossiers et projets", "Agenda", "Instances", "Groupes de travail"]
    assert [len(section.articles) for section in sample.sections] == [6, 1, 0, 0]


def test_sample_articles_and_rubrics(sample: Issue) -> None:
    assert [article.rubric for article in sample.articles] == [
        "POLITIQUE",
        "DIGITALISATION",
        "IMPACT SOCIAL",
        "PUBLICATION",
        "ETUDE UNIPSO-FRB",
        "OUTIL STATISTIQUE",
        "",
    ]
    titles = [plain_text(article.title) for article in sample.articles]
    assert titles[1] == (
        "Retour sur la conférence DIGI<ES : La digitalisation au service des entreprises sociales"
    )
    assert titles[6] == "Forum de l'économie & de l'innovation sociale"
    assert len({article.anchor for article in sample.articles}) == 7


def test_sample_event(sample: Issue) -> None:
    (event,) = sample.events
    assert event is sample.sections[1].articles[0].event
    assert event.date == dt.date(2020, 2, 21)
    assert (event.start, event.end, event.end_date) == (None, None, None)
    assert event.place == "Centre L'Ilon"
    assert event.address == ("Rue des Tanneries 1", "5000 Namur")
    assert event.link == "https://www.synhera.be"
    assert event.link_label == "Plus d'infos sur SynHERA"


def test_sample_meeting_lists(sample: Issue) -> None:
    lists = [item for s in sample.sections for item in s.items if isinstance(item, MeetingList)]
    assert [len(meetings.meetings) for meetings in lists] == [5, 3]
    first = lists[0].meetings[0]
    assert (first.date, first.time, first.body, first.place) == (
        dt.date(2020, 1, 31),
        dt.time(10, 0),
        "Bureau",
        "UNIPSO Namur",
    )
    assert lists[1].meetings[-1].date == dt.date(2020, 3, 5)
    assert lists[1].meetings[1].time == dt.time(9, 30)


def test_sample_signatures(sample: Issue) -> None:
    # The sample has 7 ```signature blocks (lines 28, 40, 71, 95, 113, 127, 157), one per article.
    signatures = [person for article in sample.articles for person in article.signatures]
    assert len(signatures) == 7
    assert [len(article.signatures) for article in sample.articles] == [1] * 7
    assert signatures[0].name == "Frédéric Clerbaux"
    assert signatures[-1].email == "geoffrey.morbois@unipso.be"


def test_sample_footnotes_numbered_in_reading_order(sample: Issue) -> None:
    refs = [n for a in sample.articles for n in _footnote_refs((a.title, a.body))]
    assert refs == [1, 2, 3, 4]
    notes = [note for article in sample.articles for note in article.footnotes]
    assert [note.number for note in notes] == [1, 2, 3, 4]
    for article in sample.articles:
        numbers = list(dict.fromkeys(_footnote_refs((article.title, article.body))))
        assert [note.number for note in article.footnotes] == numbers
    assert plain_text(notes[0].children).startswith("Union nationale interfédérale")
    assert plain_text(notes[1].children) == "Sur www.unipso.be : Conférences."


def test_sample_links(sample: Issue) -> None:
    links = list(iter_links(sample))
    assert len(links) == 23
    assert all(link.startswith(("http://", "https://", "mailto:")) for link in links)
    assert links[0] == "https://drive.google.com/open?id=1wnbDSW-HyE7Va-WGu-MBQhY_B1zQvSX"
    assert links[-2:] == ["mailto:geoffrey.morbois@unipso.be"] * 2


# ---------------------------------------------------------------- rendering keeps the content


@pytest.fixture(scope="module", params=["fr-example", "nl-sample"])
def rendered(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, services: Services
) -> tuple[Issue, str, str]:
    path = request.getfixturevalue("example_issue") if request.param == "fr-example" else NL_SAMPLE
    out = tmp_path_factory.mktemp("render") / "out"
    render_to_directory(path, out, config=services.config, templates=services.templates)
    html_text = (out / "index.html").read_text(encoding="utf-8")
    return read_issue(path), html_text, (out / "index.txt").read_text(encoding="utf-8")


def test_html_keeps_every_article_title(rendered: tuple[Issue, str, str]) -> None:
    issue, markup, _ = rendered
    page = _html_text(markup)
    for article in issue.articles:
        assert _normalise(plain_text(article.title)) in page


def test_html_keeps_every_link_as_href(rendered: tuple[Issue, str, str]) -> None:
    issue, markup, _ = rendered
    images = _image_sources(issue)
    for link in iter_links(issue):
        attribute = "src" if link in images else "href"
        assert f'{attribute}="{html.escape(link)}"' in markup


def test_text_keeps_every_title_and_link(rendered: tuple[Issue, str, str]) -> None:
    issue, _, text = rendered
    flat = _normalise(text)
    for article in issue.articles:
        assert _normalise(plain_text(article.title)) in flat
    images = _image_sources(issue)
    for link in iter_links(issue):
        if link in images:
            continue  # the text part shows an image's alt text, not its address
        if link.startswith("mailto:"):
            assert link.removeprefix("mailto:") in text
        else:
            assert link in text


# ---------------------------------------------------------------- every bad input


def _case(source: str, line: int, message: str, hint: str | None, case_id: str) -> object:
    return pytest.param(source, line, message, hint, id=case_id)


BAD_INPUTS = [
    _case(
        _front('language = "fr"\n', 'language = "fr"\nauthor = "Moi"\n'),
        8, "unknown front-matter key 'author'", "known keys", "front-unknown-key",
    ),
    *(
        _case(_without(key), 7, f"missing front-matter key '{key}'", "", f"front-missing-{key}")
        for key in REQUIRED_KEYS
    ),
    _case(
        _front("date = 2021-05-01", 'date = "2021-05-01"'),
        4, "'date' must be a date", "unquoted", "front-date-quoted",
    ),
    _case(
        _front("date = 2021-05-01", "date = 2021-05-01T10:00:00"),
        4, "'date' must be a date", "unquoted", "front-date-datetime",
    ),
    _case(
        _front('subject = "Sujet"', "subject = Sujet"),
        5, "invalid TOML in the front matter", "quotes", "front-toml-unquoted",
    ),
    _case(
        _front('preheader = "Un aperçu"', 'preheader = "Un aperçu'),
        6, "invalid TOML in the front matter", "quotes", "front-toml-unclosed-string",
    ),
    _case(HEAD + "Texte.\n", 1, "must start with a front matter", "+++", "no-front-matter"),
    _case(FRONT[:-4] + HEAD, 1, "front matter is never closed", "+++", "front-unclosed"),
    _case("", 1, "must start with a front matter", "+++", "empty-text"),
    _case(
        _front('preheader = "Un aperçu"', 'preheader = "Un <b>aperçu</b>"'),
        6, "preheader must be plain text", "tags", "preheader-html",
    ),
    _case(
        FRONT + "\n# Section\n\n## POLITIQUE |\n\nTexte.\n",
        12, "this article has no title", "## RUBRIC | Title", "article-without-title",
    ),
    _case(
        FRONT + "\n## Titre\n\nTexte.\n",
        10, "must be inside a section", "# Section title", "article-before-section",
    ),
    _case(
        _doc("Du <b>gras</b>.\n"),
        14, "raw HTML is not allowed: '<b>'", HTML_HINT, "html-inline",
    ),
    _case(
        _doc("Texte.\n\n<div>\nbloc\n</div>\n"),
        16, "raw HTML is not allowed: '<div>'", HTML_HINT, "html-block",
    ),
    _case(_doc("Note<sup>1</sup>.\n"), 14, "raw HTML is not allowed: '<sup>'", HTML_HINT, "sup"),
    _case(
        _doc("Ligne un,\nligne deux,\nligne <b>trois</b>.\n"),
        16, "raw HTML is not allowed: '<b>'", HTML_HINT, "html-third-line",
    ),
    _case(
        _doc("Ligne un,\nligne deux,\nligne trois<sup>1</sup>.\n"),
        16, "raw HTML is not allowed: '<sup>'", HTML_HINT, "sup-third-line",
    ),
    _case(
        _doc("![](https://www.example.org/photo.jpg)\n"),
        14, "this image has no alt text", "![", "image-without-alt",
    ),
    _case(
        _doc("![Logo](images/logo.png)\n"),
        14, "image address must be absolute https://", "https://", "image-relative",
    ),
    _case(
        _doc("![Logo](http://www.example.org/logo.png)\n"),
        14, "image address must be absolute https://", "https://", "image-http",
    ),
    _case(
        _doc("Voir [la page](page.html).\n"),
        14, "links must be absolute", "https://", "link-relative",
    ),
    _case(
        _doc("Retour [en haut](#top).\n"),
        14, "links must be absolute", "https://", "link-anchor",
    ),
    _case(_doc("Voir [ici](#).\n"), 14, "links must be absolute", "https://", "link-hash"),
    _case(
        _doc("Suivez #ActuUNIPSO :\nla lettre est\n[en ligne](#).\n"),
        16, "links must be absolute", "https://", "link-hash-third-line-after-hashtag",
    ),
    _case(
        _doc(
            "Le [programme](https://www.example.org/programme.html)\n"
            "et\n"
            "[le bulletin](programme.html).\n"
        ),
        16, "links must be absolute", "https://", "link-relative-third-line-after-same-address",
    ),
    _case(_doc("Voir [ici]().\n"), 14, "a link has no address", "https://", "link-empty"),
    _case(
        _doc("Écrire à [Jean](mailto:jean).\n"),
        14, "invalid e-mail address", None, "mailto-no-at",
    ),
    _case(_doc("Écrire à [Jean](mailto:).\n"), 14, "invalid e-mail address", None, "mailto-empty"),
    _case(
        _doc("Voir la note[^a].\n"),
        14, "footnote [^a] is referred to but never defined", "[^a]:", "footnote-undefined",
    ),
    _case(
        _doc("Texte.\n\n[^a]: Une note.\n"),
        16, "footnote [^a] is defined but never referred to", "[^a]", "footnote-unused",
    ),
    _case(
        _doc("Texte[^a].\n\n[^a]: Utilisée.\n\n[^b]: Jamais utilisée.\n"),
        18, "footnote [^b] is defined but never referred to", "[^b]", "footnote-unused-beside-used",
    ),
    _case(
        _fence("signature", 'name = "Jean"\nmail = "jean@example.org"\n'),
        18, "unknown key 'mail' in the signature block", "known keys", "signature-unknown-key",
    ),
    _case(
        _fence("signature", "name = Jean\n"),
        17, "invalid TOML in the signature block", "quotes", "signature-toml-error",
    ),
    _case(
        _fence("event", 'date = 2021-05-02\nlieu = "Namur"\n'),
        18, "unknown key 'lieu' in the event block", "known keys", "event-unknown-key",
    ),
    _case(
        _fence("meetings", '[[meeting]]\ndate = 2021-05-02\nbody = "CA"\nroom = "1"\n'),
        20, "unknown key 'room' in the meeting block", "known keys", "meeting-unknown-key",
    ),
    _case(
        _fence("meetings", 'title = "x"\n[[meeting]]\ndate = 2021-05-02\nbody = "CA"\n'),
        17, "unknown key 'title' in the meetings block", "known keys", "meetings-unknown-key",
    ),
    _case(
        _fence("event", 'date = 2021-05-02\nstart = "25:00"\n'),
        18, "'start' must be a time", None, "event-bad-time",
    ),
    _case(
        _fence("meetings", '[[meeting]]\ndate = 2021-05-02\ntime = "25:00"\nbody = "CA"\n'),
        19, "'time' must be a time", None, "meeting-bad-time",
    ),
    _case(
        _fence("event", "date = 2021-05-02\nend_date = 2021-05-01\n"),
        18, "'end_date' is before 'date'", None, "event-ends-before-it-starts",
    ),
    _case(
        _fence("python", "print(1)\n"),
        16, "code blocks are not supported (```python)", "```signature", "fence-python",
    ),
    _case(
        _doc("Texte.\n\n---\n\nSuite.\n"),
        16, "horizontal rules ('---') are not supported", "remove the line", "horizontal-rule",
    ),
]  # fmt: skip


def _check(error: IssueFormatError, path: Path, line: int, message: str, hint: str | None) -> None:
    assert error.path == path
    assert error.line == line, str(error)
    assert message in error.message
    assert str(error).startswith(f"{path}:{line}: ")
    if hint is not None:
        assert error.hint, "expected a hint"
        assert hint in error.hint
        assert f"\n  hint: {error.hint}" in str(error)


@pytest.mark.parametrize(("source", "line", "message", "hint"), BAD_INPUTS)
def test_parse_issue_reports_bad_input(source: str, line: int, message: str, hint: str) -> None:
    with pytest.raises(IssueFormatError) as caught:
        parse_issue(source, "issues/bad.md")
    _check(caught.value, Path("issues/bad.md"), line, message, hint)


@pytest.mark.parametrize(("source", "line", "message", "hint"), BAD_INPUTS)
def test_read_issue_reports_bad_input(
    tmp_path: Path, source: str, line: int, message: str, hint: str
) -> None:
    path = tmp_path / "bad.md"
    path.write_text(source, encoding="utf-8")
    with pytest.raises(IssueFormatError) as caught:
        read_issue(path)
    _check(caught.value, path, line, message, hint)


def test_the_base_of_the_bad_inputs_is_valid() -> None:
    issue = parse_issue(_doc("Texte.\n"), "ok.md")
    assert [a.line for a in issue.articles] == [12]
    assert parse_issue(_fence("signature", 'name = "Jean"\n')).articles[0].signatures


def test_non_utf8_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "cp1252.md"
    path.write_bytes(_doc("Texte.\n").replace("Sujet", "Café").encode("cp1252"))
    assert path.read_bytes().splitlines()[4] == b'subject = "Caf\xe9"'
    with pytest.raises(IssueFormatError) as caught:
        read_issue(path)
    _check(caught.value, path, 5, "not UTF-8", "UTF-8")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.md"
    path.write_bytes(b"")
    with pytest.raises(IssueFormatError) as caught:
        read_issue(path)
    _check(caught.value, path, 1, "must start with a front matter", "+++")


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.md"
    with pytest.raises(IssueFormatError) as caught:
        read_issue(path)
    assert (caught.value.path, caught.value.line) == (path, None)
    assert str(caught.value).startswith(f"{path}: cannot read the file")


# ---------------------------------------------------------------- the command line


def _mailer(mailer_bin: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "FORCE_COLOR")}
    env.pop("MAILER_CONFIG", None)
    env["NO_COLOR"] = "1"
    return subprocess.run(
        [mailer_bin, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False,
        timeout=120,
    )  # fmt: skip


CLI_BAD_INPUTS = [
    pytest.param(_doc("Ligne un,\nligne deux,\nligne trois<sup>1</sup>.\n").encode(), 16,
                 id="sup-third-line"),
    pytest.param(_front('language = "fr"\n', 'language = "fr"\nauthor = "Moi"\n').encode(), 8,
                 id="front-unknown-key"),
    pytest.param(_without("date").encode(), 7, id="front-missing-date"),
    pytest.param(_doc("Texte.\n").replace("Sujet", "Café").encode("cp1252"), 5, id="not-utf8"),
    pytest.param(_fence("signature", 'name = "Jean"\nemail = "jean[at]example.org"\n').encode(),
                 18, id="e-mail-with-brackets"),
    pytest.param(_fence("signature", 'name = "Jean"\nemail = "[/b]"\n').encode(), 18,
                 id="e-mail-like-a-closing-tag"),
]  # fmt: skip


@pytest.mark.parametrize(("source", "line"), CLI_BAD_INPUTS)
def test_cli_bad_input_exits_2_and_writes_nothing(
    mailer_bin: str, tmp_path: Path, source: bytes, line: int
) -> None:
    (tmp_path / "bad.md").write_bytes(source)
    with pytest.raises(IssueFormatError) as caught:
        read_issue(tmp_path / "bad.md")
    expected = caught.value
    assert expected.line == line
    result = _mailer(mailer_bin, "render", "bad.md", "--out", "out", cwd=tmp_path)
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert result.returncode == 2, output
    assert f"bad.md:{line}:" in result.stderr
    assert _squash(expected.message) in _squash(result.stderr)
    if expected.hint:
        assert _squash(expected.hint) in _squash(result.stderr)
    assert not (tmp_path / "out").exists()


def test_cli_error_keeps_file_and_line_together_for_a_long_path(
    mailer_bin: str, tmp_path: Path
) -> None:
    folder = tmp_path / "Mes documents" / "Lettre d'information UNIPSO" / "2020"
    folder.mkdir(parents=True)
    bad = folder / "ActuUNIPSO janvier brouillon.md"
    bad.write_text(_doc("Ligne un,\nligne deux,\nligne trois<sup>1</sup>.\n"), encoding="utf-8")
    result = _mailer(mailer_bin, "render", str(bad), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 2
    assert f"{bad}:16: raw HTML is not allowed: '<sup>'" in result.stderr


def test_cli_bad_input_leaves_an_existing_output_untouched(mailer_bin: str, tmp_path: Path) -> None:
    (tmp_path / "bad.md").write_text(_doc("Du <b>gras</b>.\n"), encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "index.html").write_bytes(b"<p>previous issue</p>")
    (out / "notes.txt").write_bytes(b"keep me")
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()}
    result = _mailer(mailer_bin, "render", "bad.md", "--out", "out", cwd=tmp_path)
    assert result.returncode == 2
    assert "bad.md:14:" in result.stderr
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()} == before


@pytest.mark.parametrize("which", ["fr-example", "nl-sample"])
def test_cli_check_passes_on_a_good_issue(
    request: pytest.FixtureRequest, mailer_bin: str, tmp_path: Path, which: str
) -> None:
    path = request.getfixturevalue("example_issue") if which == "fr-example" else NL_SAMPLE
    out = tmp_path / "out"
    result = _mailer(mailer_bin, "render", str(path), "--out", str(out), "--check", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["index.html", "index.txt", "preview.eml"]
    assert all((out / name).stat().st_size > 1000 for name in ("index.html", "preview.eml"))
    assert (out / "index.txt").stat().st_size > 500


# ---------------------------------------------------------------- a second issue, in Dutch


@pytest.fixture(scope="module")
def dutch() -> Issue:
    return read_issue(NL_SAMPLE)


def test_nl_sample_front_matter_and_intro(dutch: Issue) -> None:
    front = dutch.front
    assert (front.newsletter, front.number, front.date) == (
        "Sociaal Nieuws",
        "12bis",
        dt.date(2021, 3, 15),
    )
    assert front.language == "nl"
    (intro,) = dutch.intro
    assert isinstance(intro, Paragraph)
    assert (
        plain_text(intro.children)
        == "Beste lezer, in dit nummer vindt u drie nieuwtjes uit de sector."
    )
    assert any(isinstance(node, Strong) for node in intro.children)
    assert dutch.footer.editors == ("An Peeters", "Bram Janssens")


def test_nl_sample_sections_and_articles(dutch: Issue) -> None:
    assert [s.title for s in dutch.sections] == ["Nieuws", "Agenda"]
    assert [plain_text(a.title) for a in dutch.articles] == [
        "De resultaten van onze enquête zijn binnen",
        "Vergaderingen van het voorjaar",
        "Congres van de sociale sector",
    ]
    assert [a.rubric for a in dutch.articles] == ["ENQUÊTE", "", ""]
    assert [a.line for a in dutch.articles] == [19, 61, 80]


def test_nl_sample_article_body(dutch: Issue) -> None:
    article = dutch.articles[0]
    kinds = [type(block) for block in article.body]
    assert kinds == [
        Paragraph, OrderedList, Paragraph, BulletList, Quote, Subheading, Paragraph, Image,
    ]  # fmt: skip
    ordered = article.body[1]
    assert isinstance(ordered, OrderedList)
    assert (ordered.start, len(ordered.items)) == (1, 3)
    bullets = article.body[3]
    assert isinstance(bullets, BulletList)
    nested = bullets.items[0][1]
    assert isinstance(nested, BulletList)
    assert len(nested.items) == 2
    broken = article.body[6]
    assert isinstance(broken, Paragraph)
    assert LineBreak() in broken.children
    image = article.body[7]
    assert image == Image(
        src="https://www.example.org/img/enquete.png",
        alt="Grafiek met de resultaten van de enquête",
        caption="De resultaten in één oogopslag",
    )


def test_nl_sample_signatures_and_footnotes(dutch: Issue) -> None:
    article = dutch.articles[0]
    assert [p.name for p in article.signatures] == ["An Peeters", "Bram Janssens"]
    assert article.signatures[0].email == "an.peeters@example.org"
    assert [note.number for note in article.footnotes] == [1, 2]
    assert _footnote_refs(article.body) == [1, 2]
    assert plain_text(article.footnotes[1].children) == "Op onze website."


def test_nl_sample_meetings_inside_an_article(dutch: Issue) -> None:
    article = dutch.articles[1]
    (meetings,) = [b for b in article.body if isinstance(b, MeetingList)]
    assert [(m.date, m.time, m.body, m.place) for m in meetings.meetings] == [
        (dt.date(2021, 4, 6), dt.time(14, 0), "Werkgroep Zorg", "Brussel"),
        (dt.date(2021, 4, 20), dt.time(9, 30), "Raad van bestuur", ""),
    ]


def test_nl_sample_multi_day_event(dutch: Issue) -> None:
    (event,) = dutch.events
    assert (event.date, event.end_date) == (dt.date(2021, 5, 10), dt.date(2021, 5, 11))
    assert (event.start, event.end) == (dt.time(9, 0), dt.time(17, 0))
    assert event.link == "https://www.example.org/congres"
    assert event.address == ("Kunstberg 1", "1000 Brussel")
    assert list(iter_links(dutch)) == [
        "https://www.example.org/enquete",
        "https://www.example.org/img/enquete.png",
        "mailto:an.peeters@example.org",
        "https://www.example.org/rapport",
        "mailto:congres@example.org",
        "https://www.example.org/congres",
        "mailto:redactie@example.org",
    ]


@pytest.fixture(scope="module")
def dutch_output(tmp_path_factory: pytest.TempPathFactory, services: Services) -> tuple[str, str]:
    out = tmp_path_factory.mktemp("nl") / "out"
    render_to_directory(NL_SAMPLE, out, config=services.config, templates=services.templates)
    return (out / "index.html").read_text("utf-8"), (out / "index.txt").read_text("utf-8")


def test_nl_sample_renders_in_dutch(dutch_output: tuple[str, str]) -> None:
    markup, text = dutch_output
    assert 'lang="nl"' in markup
    assert "In dit nummer" in markup
    assert "De resultaten in één oogopslag" in _html_text(markup)
    assert "IN DIT NUMMER" in text


def test_dutch_plain_text_has_no_french_space_before_colons(dutch_output: tuple[str, str]) -> None:
    # French typography ("Rédacteurs : …") is for French issues only (docs/issue-format.md).
    _, text = dutch_output
    assert [line for line in text.splitlines() if " : " in line] == []
