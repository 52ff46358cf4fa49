"""``campaign preview POST``: the page's structure, read with an HTML parser."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

import pytest
from typer.testing import CliRunner

from campaign_scheduler.cli import app
from campaign_scheduler.preview.build import fold
from conftest import Workspace, draft_text
from preview_data import CHANNELS, preview_workspace


class Element:
    def __init__(self, tag: str, attrs: dict[str, str]) -> None:
        self.tag = tag
        self.attrs = attrs
        self.children: list[Element] = []
        self.text_parts: list[str] = []

    @property
    def text(self) -> str:
        return "".join(self.text_parts)

    def classes(self) -> list[str]:
        return self.attrs.get("class", "").split()

    def find_all(self, tag: str | None = None, css: str | None = None) -> list[Element]:
        found = []
        for child in self.children:
            if (tag is None or child.tag == tag) and (css is None or css in child.classes()):
                found.append(child)
            found.extend(child.find_all(tag, css))
        return found


class Tree(HTMLParser):
    """Every element with its attributes and its text (including its children's text)."""

    VOID: ClassVar[set[str]] = {"meta", "img", "br", "link", "input", "hr"}

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.stack = [self.root]
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(element)
        if tag not in self.VOID:
            self.stack.append(element)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        for element in self.stack:
            element.text_parts.append(data)


def run_preview(workspace: Workspace, runner: CliRunner, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--config", str(workspace.config_file), "preview", *args])
    return result.exit_code, result.output


@pytest.fixture
def page(workspace: Workspace, runner: CliRunner, tmp_path: Path) -> Tree:
    preview_workspace(workspace)
    code, output = run_preview(workspace, runner, "soest/01-lang")
    assert code == 0, output
    path = tmp_path / "preview-soest-01-lang.html"  # in the current folder
    assert f"wrote {path}" in output
    return Tree(path.read_text(encoding="utf-8"))


def sections(tree: Tree) -> dict[str, Element]:
    return {s.attrs["data-channel"]: s for s in tree.root.find_all("section", "network")}


def test_every_network_of_the_post_has_its_own_view(page: Tree) -> None:
    assert sorted(sections(page)) == sorted(CHANNELS)
    for channel, section in sections(page).items():
        assert f"soest-{channel}" in section.find_all("p", "account")[0].text


def test_placeholders_are_rendered_in_the_campaigns_language(page: Tree) -> None:
    text = page.root.find_all("main")[0].text
    assert "{" not in text and "}" not in text
    assert "Am Donnerstag, 18. November ist es so weit: Stadt Soest" in text
    assert page.root.find_all("html")[0].attrs["lang"] == "de"
    assert "Teil 1 von 2" in text
    assert "Absender: Stadt Soest" in page.root.text
    assert "Geplant für: Do., 4. Nov. 2021, 09:30 Uhr" in page.root.text


def test_the_text_is_cut_where_the_network_folds_it(page: Tree) -> None:
    views = sections(page)
    for channel in ("instagram", "linkedin"):
        (part,) = views[channel].find_all("p", "text")
        (fold_mark,) = part.find_all("span", "fold")
        assert fold_mark.text == "… mehr"
        shown = part.text.removesuffix("… mehr").rstrip()
        assert shown.endswith(("wie", "Solardach")), shown  # between words
    for channel in ("mastodon", "facebook"):
        assert not views[channel].find_all("span", "fold")
        assert "#5malklug" in views[channel].text


def test_fold_counts_grapheme_clusters_and_cuts_between_words() -> None:
    text = "Grüße 👩‍👩‍👧 aus Soest und Olpe"
    visible, folded, shown, total = fold(text, 10)
    assert (visible, folded, shown, total) == ("Grüße 👩‍👩‍👧", True, 7, 26)
    assert fold("kurz", 10) == ("kurz", False, 4, 4)
    assert fold("einwortohnepause", 5)[0] == "einwo"  # no space: cut at the limit


def test_over_long_texts_are_shown_as_the_thread_they_become(page: Tree) -> None:
    views = sections(page)
    for channel in ("bluesky", "x"):
        parts = views[channel].find_all("article", "part")
        assert len(parts) == 2
        assert [p.find_all("div", "part-number")[0].text for p in parts] == [
            "Teil 1 von 2",
            "Teil 2 von 2",
        ]
        assert parts[0].find_all("p", "text")[0].text.endswith("(1/2)")
        assert parts[1].find_all("p", "text")[0].text.endswith("#5malklug (2/2)")
    assert len(views["mastodon"].find_all("article", "part")) == 1  # 500 is enough


def test_images_are_embedded_and_framed_per_network_with_their_alt_text(page: Tree) -> None:
    ratios = {}
    for channel, section in sections(page).items():
        (img,) = section.find_all("img")
        assert img.attrs["src"].startswith("data:image/png;base64,")
        assert img.attrs["alt"] == "Plakat: Smart Cities: Konferenz am 18. November"
        caption = section.find_all("figcaption")[0].text
        assert "Alternativtext: Plakat: Smart Cities: Konferenz am 18. November" in caption
        ratios[channel] = section.find_all("div", "frame")[0].attrs.get("style")
    assert ratios == {
        "bluesky": None,  # shown at the image's own ratio
        "facebook": "aspect-ratio: 1 / 1",
        "instagram": "aspect-ratio: 4 / 5",
        "linkedin": "aspect-ratio: 191 / 100",
        "mastodon": "aspect-ratio: 16 / 9",
        "x": "aspect-ratio: 16 / 9",
    }


def test_the_page_requests_nothing_and_links_nowhere(page: Tree) -> None:
    everything = page.root.find_all()
    assert not [e for e in everything if e.tag in ("script", "a", "link", "iframe", "object")]
    for element in everything:
        assert "href" not in element.attrs
        assert element.attrs.get("src", "data:").startswith("data:")
    (policy,) = [m for m in page.root.find_all("meta") if "http-equiv" in m.attrs]
    assert policy.attrs["content"].startswith("default-src 'none'")


def test_counts_are_in_each_networks_own_unit(page: Tree) -> None:
    views = sections(page)
    assert (
        "von 500 Zeichen (Adressen zählen 23)" in views["mastodon"].find_all("p", "count")[0].text
    )
    assert "von 280 gewichtete Zeichen" in views["x"].find_all("p", "count")[0].text


HOSTILE = (
    '<script>alert(1)</script> <a href="javascript:alert(2)">hier</a> &amp; '
    "<img src=x onerror=alert(3)> #5malklug"
)


def test_text_from_drafts_is_shown_as_text_never_as_markup(
    workspace: Workspace, runner: CliRunner, tmp_path: Path
) -> None:
    preview_workspace(workspace)
    (workspace.root / "posts" / "soest" / "bild.png").write_bytes(
        (workspace.root / "posts" / "soest" / "plakat.png").read_bytes()
    )
    workspace.draft(
        "soest/02-boese",
        draft_text(
            HOSTILE,
            extra='[[media]]\npath = "bild.png"\nalt = "\\"><script>alert(4)</script>"\n',
        ),
    )
    code, output = run_preview(workspace, runner, "soest/02-boese", "-o", "boese.html")
    assert code == 0, output
    html = (tmp_path / "boese.html").read_text(encoding="utf-8")
    tree = Tree(html)
    everything = tree.root.find_all()
    assert not [e for e in everything if e.tag in ("script", "a")]
    assert [e.tag for e in everything if e.tag == "img"] == ["img", "img"]  # only the images
    assert not [name for e in everything for name in e.attrs if name.startswith("on")]
    for text in (s.find_all("p", "text")[0].text for s in sections(tree).values()):
        assert text == HOSTILE
    assert {i.attrs["alt"] for i in tree.root.find_all("img")} == {'"><script>alert(4)</script>'}


def test_english_campaigns_get_english_labels(
    workspace: Workspace, runner: CliRunner, tmp_path: Path
) -> None:
    preview_workspace(workspace, language="en")
    code, output = run_preview(workspace, runner, "soest/01-lang")
    assert code == 0, output
    tree = Tree((tmp_path / "preview-soest-01-lang.html").read_text(encoding="utf-8"))
    assert tree.root.find_all("html")[0].attrs["lang"] == "en"
    assert "On Thursday" not in tree.root.text  # the draft's words stay the draft's
    assert sections(tree)["instagram"].find_all("span", "fold")[0].text == "… more"
    assert "Part 1 of 2" in tree.root.text
    assert "Alt text: Plakat" in tree.root.text


def test_output_replaces_the_file_atomically(
    workspace: Workspace, runner: CliRunner, tmp_path: Path
) -> None:
    preview_workspace(workspace)
    folder = tmp_path / "ausgabe"
    folder.mkdir()
    target = folder / "vorschau.html"
    target.write_text("alt", encoding="utf-8")
    code, output = run_preview(workspace, runner, "soest/01-lang", "-o", str(target))
    assert code == 0, output
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in folder.iterdir()) == ["vorschau.html"]  # no temporary left


def test_a_missing_output_folder_is_a_usage_error(
    workspace: Workspace, runner: CliRunner, tmp_path: Path
) -> None:
    preview_workspace(workspace)
    code, output = run_preview(workspace, runner, "soest/01-lang", "-o", "fehlt/x.html")
    assert code == 2
    assert "--output: the folder fehlt does not exist" in output
    assert "Traceback" not in output


def test_an_unknown_post_is_named_with_a_suggestion(
    workspace: Workspace, runner: CliRunner, tmp_path: Path
) -> None:
    preview_workspace(workspace)
    code, output = run_preview(workspace, runner, "soest/01-lnag")
    assert code == 2
    assert "no draft 'soest/01-lnag'" in output and "soest/01-lang" in output
    assert not list(tmp_path.glob("*.html"))


def test_open_starts_the_browser_only_when_asked_or_in_a_terminal(
    workspace: Workspace, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import webbrowser

    opened: list[str] = []

    def open_in_browser(url: str) -> bool:
        opened.append(url)
        return True

    monkeypatch.setattr(webbrowser, "open", open_in_browser)
    preview_workspace(workspace)
    assert run_preview(workspace, runner, "soest/01-lang")[0] == 0
    assert opened == []  # the runner is no terminal
    assert run_preview(workspace, runner, "soest/01-lang", "--open")[0] == 0
    assert opened == [(tmp_path / "preview-soest-01-lang.html").as_uri()]


def test_a_missing_image_is_named_on_the_page(
    workspace: Workspace, runner: CliRunner, tmp_path: Path
) -> None:
    preview_workspace(workspace)
    (workspace.root / "posts" / "soest" / "plakat.png").unlink()
    code, output = run_preview(workspace, runner, "soest/01-lang")
    assert code == 0, output
    tree = Tree((tmp_path / "preview-soest-01-lang.html").read_text(encoding="utf-8"))
    assert not tree.root.find_all("img")
    assert "Datei nicht gefunden: plakat.png" in sections(tree)["mastodon"].text
