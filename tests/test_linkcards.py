"""Link cards: OpenGraph data fetched once from a local page, cached, shown in the preview."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from campaign_scheduler import linkcards
from campaign_scheduler.cli import app
from campaign_scheduler.linkcards import (
    CachedCards,
    LinkCard,
    fetch_card,
    first_link,
    read_cache,
)
from campaign_scheduler.publishing.publisher import Publisher
from campaign_scheduler.publishing.queue import Claim, OutcomeKind
from conftest import Workspace, draft_text
from fakes import FakeChannels, FakeNetwork, ScriptedChannel
from preview_data import png
from test_preview import Tree, sections

NOW = datetime(2021, 11, 1, 9, 0, tzinfo=UTC)

PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8">
<title>Fallback-Titel</title>
<meta property="og:title" content="Smart Cities: Konferenz &amp; Messe">
<meta property="og:description" content="Fünf Städte, ein Tag: &lt;b&gt;Vorträge&lt;/b&gt;
   und   Workshops.">
<meta property="og:image" content="/bild.png">
</head><body><p>Inhalt</p></body></html>"""


class Site:
    """A web server on 127.0.0.1 with pages for every case, counting the requests."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.authorization: list[str] = []
        self.release = threading.Event()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def send(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                site.hits[self.path] += 1
                if "Authorization" in self.headers:
                    site.authorization.append(self.headers["Authorization"])
                html = "text/html; charset=utf-8"
                if self.path == "/konferenz/":
                    self.send(200, PAGE.encode(), html)
                elif self.path == "/bild.png":
                    self.send(200, png("#336699", (382, 200)), "image/png")
                elif self.path == "/weiter":
                    self.send(302, b"", html, Location="/konferenz/")
                elif self.path == "/fremd":
                    self.send(302, b"", html, Location="https://example.org/")
                elif self.path == "/gross":
                    self.send(200, b"<html>" + b" " * (linkcards.PAGE_LIMIT + 10), html)
                elif self.path == "/daten":
                    self.send(200, b"{}", "application/json")
                elif self.path == "/riesenbild":
                    page = '<meta property="og:title" content="Groß"><meta property="og:image"'
                    self.send(200, (page + ' content="/riesig.png">').encode(), html)
                elif self.path == "/riesig.png":
                    self.send(200, b"\x89PNG\r\n\x1a\n" + b"0" * linkcards.IMAGE_LIMIT, "image/png")
                elif self.path == "/schweigt":
                    site.release.wait()
                else:
                    self.send(404, b"", html)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                pass  # a client that stops reading (a size limit, a timeout) is expected

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site(monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    monkeypatch.setenv("CAMPAIGN_LINK_CARDS", "on")
    server = Site()
    yield server
    server.close()


def test_the_first_link_of_a_text() -> None:
    assert first_link("Programm: https://example.org/a?b=1. Danke!") == "https://example.org/a?b=1"
    assert first_link("(siehe https://example.org/x)") == "https://example.org/x"
    assert first_link("ohne Link, nur www.example.org") is None


def test_a_page_gives_title_description_and_image(site: Site) -> None:
    card = fetch_card(site.url("/konferenz/"), now=NOW)
    assert card.ok, card.error
    assert card.title == "Smart Cities: Konferenz & Messe"
    assert card.description == "Fünf Städte, ein Tag: <b>Vorträge</b> und Workshops."
    assert card.image_url == site.url("/bild.png")
    assert card.image_type == "image/png" and card.image == png("#336699", (382, 200))


def test_redirects_within_the_site_are_followed(site: Site) -> None:
    assert fetch_card(site.url("/weiter"), now=NOW).title == "Smart Cities: Konferenz & Messe"


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/fremd", "redirects to another site (https://example.org/)"),
        ("/gross", f"is larger than {linkcards.PAGE_LIMIT} bytes"),
        ("/daten", "is not an HTML page"),
        ("/fehlt", "answered HTTP 404"),
    ],
)
def test_what_is_not_fetched(site: Site, path: str, reason: str) -> None:
    card = fetch_card(site.url(path), now=NOW)
    assert not card.ok
    assert card.error is not None and reason in card.error


def test_an_image_over_the_limit_leaves_the_card_without_image(site: Site) -> None:
    card = fetch_card(site.url("/riesenbild"), now=NOW)
    assert card.ok and card.title == "Groß"
    assert card.image is None
    assert card.image_problem is not None and "larger than" in card.image_problem


def test_a_server_that_never_answers_runs_into_the_timeout(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(linkcards, "TIMEOUT", 0.2)
    card = fetch_card(site.url("/schweigt"), now=NOW)
    assert card.error is not None and "did not answer within 0.2 s" in card.error


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://example.org/", "only https addresses are fetched"),
        ("ftp://example.org/", "only https addresses are fetched"),
        ("https://nutzer:geheim@example.org/", "contains a user name or password"),
        ("javascript:alert(1)", "the address has no host"),
    ],
)
def test_addresses_that_are_refused_without_a_request(url: str, reason: str) -> None:
    card = fetch_card(url, now=NOW)
    assert card.error is not None and reason in card.error
    assert "geheim" not in card.error


def test_no_credentials_from_netrc_are_sent(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login nutzer password geheim\n", encoding="utf-8")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    assert fetch_card(site.url("/konferenz/"), now=NOW).ok
    assert site.authorization == []


def link_workspace(workspace: Workspace, site: Site) -> None:
    workspace.draft(
        "soest/01-link",
        draft_text(f"Programm und Anmeldung: {site.url('/konferenz/')} #5malklug"),
    )
    workspace.draft(
        "soest/02-kaputt",
        draft_text(f"Noch ein Link: {site.url('/fehlt')} #5malklug", at="T-13d 09:30"),
    )


def check(workspace: Workspace, runner: CliRunner) -> str:
    result = runner.invoke(app, ["--config", str(workspace.config_file), "check"])
    assert result.exit_code == 0, result.output
    return result.output


def test_check_fetches_each_card_once_and_caches_it_in_the_campaign_folder(
    workspace: Workspace, runner: CliRunner, site: Site
) -> None:
    link_workspace(workspace, site)
    output = check(workspace, runner)
    assert f"warning: no link card for {site.url('/fehlt')}: " in output
    assert "soest/02-kaputt.md:5:" in output  # the line of the text
    cache = workspace.root / "campaign" / ".cache" / "linkcards.json"
    cards = read_cache(cache)
    assert cards[site.url("/konferenz/")].title == "Smart Cities: Konferenz & Messe"
    check(workspace, runner)
    assert site.hits["/konferenz/"] == 1 and site.hits["/bild.png"] == 1
    assert site.hits["/fehlt"] == 1  # a failure is not retried at once either


def test_a_failed_card_is_retried_after_an_hour(
    workspace: Workspace, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    from campaign_scheduler.campaign import require_campaign
    from campaign_scheduler.drafts import load_drafts

    link_workspace(workspace, site)
    campaign = require_campaign(workspace.campaign_file)
    drafts, _ = load_drafts(workspace.root / "posts", campaign)
    fetched: list[str] = []

    def fetch(url: str) -> LinkCard:
        fetched.append(url)
        return LinkCard(url, NOW, error="kaputt")

    for minutes in (0, 59, 60):
        linkcards.refresh_cards(drafts, campaign, now=NOW + timedelta(minutes=minutes), fetch=fetch)
    assert sorted(fetched) == sorted(
        [site.url("/konferenz/"), site.url("/fehlt"), site.url("/konferenz/"), site.url("/fehlt")]
    )


def test_load_fetches_the_cards_too(workspace: Workspace, runner: CliRunner, site: Site) -> None:
    link_workspace(workspace, site)
    result = runner.invoke(app, ["--config", str(workspace.config_file), "load"])
    assert result.exit_code == 0, result.output
    assert "warning: no link card for" in result.output
    assert site.hits["/konferenz/"] == 1


def test_cached_drafts_give_their_card_warnings_without_being_made_whole(
    workspace: Workspace,
    runner: CliRunner,
    site: Site,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The draft cache keeps each draft's card links (channel, address, line of the text):
    a check or load of unchanged drafts with fetching on tells the same warnings and fetches
    nothing, without making a single ``Draft``."""
    from test_draft_cache import settle
    from test_load import record_drafts_made

    link_workspace(workspace, site)
    settle(*(workspace.root / "posts" / "soest").glob("*.md"))
    first = check(workspace, runner)
    loaded = runner.invoke(app, ["--config", str(workspace.config_file), "load"])
    assert loaded.exit_code == 0, loaded.output
    built = record_drafts_made(monkeypatch)
    monkeypatch.setattr(linkcards, "card_uses", None)  # (drafts are not asked for links)
    again = check(workspace, runner)
    assert [line for line in again.splitlines() if "link card" in line] == [
        line for line in first.splitlines() if "link card" in line
    ]
    assert "soest/02-kaputt.md:5: warning: no link card for" in again
    again_loaded = runner.invoke(app, ["--config", str(workspace.config_file), "load"])
    assert again_loaded.exit_code == 0, again_loaded.output
    assert "0 new, 0 changed, 0 removed, 2 unchanged" in again_loaded.output
    assert "warning: no link card for" in again_loaded.output
    assert built == []
    assert site.hits["/konferenz/"] == 1 and site.hits["/fehlt"] == 1


def test_fetching_can_be_turned_off(
    workspace: Workspace, runner: CliRunner, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAMPAIGN_LINK_CARDS", "off")
    link_workspace(workspace, site)
    assert "no link card" not in check(workspace, runner)
    assert not site.hits


def test_a_failure_fetched_before_is_still_a_warning_with_fetching_off(
    workspace: Workspace, runner: CliRunner, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    link_workspace(workspace, site)
    check(workspace, runner)
    monkeypatch.setenv("CAMPAIGN_LINK_CARDS", "off")
    assert f"warning: no link card for {site.url('/fehlt')}: " in check(workspace, runner)
    (workspace.root / "campaign" / ".cache" / "linkcards.json").unlink()
    assert "no link card" not in check(workspace, runner)
    assert site.hits["/fehlt"] == 1


def test_posts_with_images_need_no_card(
    workspace: Workspace, runner: CliRunner, site: Site
) -> None:
    (workspace.root / "posts" / "soest" / "bild.png").write_bytes(png())
    workspace.draft(
        "soest/03-bild",
        draft_text(
            f"Mit Bild: {site.url('/konferenz/')} #5malklug",
            extra='[[media]]\npath = "bild.png"\nalt = "Plakat"\n',
        ),
    )
    check(workspace, runner)
    assert not site.hits


def test_the_preview_shows_the_card(
    workspace: Workspace, runner: CliRunner, site: Site, tmp_path: Path
) -> None:
    link_workspace(workspace, site)
    result = runner.invoke(
        app, ["--config", str(workspace.config_file), "preview", "soest/01-link"]
    )
    assert result.exit_code == 0, result.output
    tree = Tree((tmp_path / "preview-soest-01-link.html").read_text(encoding="utf-8"))
    for section in sections(tree).values():  # mastodon and bluesky both show cards
        (card,) = section.find_all("div", "card")
        assert card.find_all("div", "card-title")[0].text == "Smart Cities: Konferenz & Messe"
        assert card.find_all("div", "card-description")[0].text == (
            "Fünf Städte, ein Tag: <b>Vorträge</b> und Workshops."
        )
        assert card.find_all("div", "card-host")[0].text == "127.0.0.1"
        (image,) = card.find_all("img")
        assert image.attrs["src"].startswith("data:image/png;base64,")
    assert not tree.root.find_all("b")  # the description is text
    result = runner.invoke(
        app, ["--config", str(workspace.config_file), "preview", "soest/02-kaputt"]
    )
    assert result.exit_code == 0, result.output
    tree = Tree((tmp_path / "preview-soest-02-kaputt.html").read_text(encoding="utf-8"))
    notes = [n.text for n in tree.root.find_all("p", "card-note")]
    assert notes and all("HTTP 404" in n for n in notes)
    assert site.hits["/konferenz/"] == 1  # the second preview used the cache


def claim_for(text: str, **changes: object) -> Claim:
    values: dict[str, object] = {
        "delivery_id": 1,
        "attempt_id": 1,
        "attempt_number": 1,
        "worker": "w",
        "campaign_slug": "testlauf",
        "post_key": "soest/01-link",
        "post_source": "draft",
        "account_name": "soest-bluesky",
        "channel": "bluesky",
        "text": text,
        "language": "de",
        "media": [],
        "idempotency_key": "k",
        "due_at": NOW,
        "not_after": None,
        "grace": timedelta(hours=2),
        "key_first_used": NOW,
    }
    values.update(changes)
    return Claim(**values)  # type: ignore[arg-type]


def test_the_daemon_publishes_the_cached_card_and_fetches_nothing(
    workspace: Workspace, runner: CliRunner, site: Site, tmp_path: Path
) -> None:
    link_workspace(workspace, site)
    check(workspace, runner)
    fetched = sum(site.hits.values())
    cache = workspace.root / "campaign" / ".cache" / "linkcards.json"
    publisher = Publisher(
        FakeChannels(ScriptedChannel(FakeNetwork())),
        media_root=tmp_path,
        link_cards=CachedCards(cache),
    )

    card = publisher.outbound(claim_for(f"Programm: {site.url('/konferenz/')} #5malklug")).link_card
    assert card is not None
    assert (card.url, card.title) == (site.url("/konferenz/"), "Smart Cities: Konferenz & Messe")
    assert card.thumb == png("#336699", (382, 200)) and card.thumb_type == "image/png"
    # No card: for a failed fetch, a post with images, a text without a link.
    assert publisher.outbound(claim_for(f"Kaputt: {site.url('/fehlt')}")).link_card is None
    media = [{"path": "bild.png", "alt": "Plakat"}]
    with_media = claim_for(f"Programm: {site.url('/konferenz/')}", media=media)
    assert publisher.outbound(with_media).link_card is None
    assert publisher.outbound(claim_for("Ohne Link")).link_card is None
    assert sum(site.hits.values()) == fetched


def test_a_cache_that_cannot_be_written_is_a_warning(
    workspace: Workspace, runner: CliRunner, site: Site
) -> None:
    link_workspace(workspace, site)
    (workspace.root / "campaign" / ".cache").write_text("kein Ordner", encoding="utf-8")
    output = check(workspace, runner)
    assert "warning: cannot keep the link cards" in output
    assert "Traceback" not in output


def test_a_thread_goes_without_the_card_and_a_short_split_post_with_it(
    workspace: Workspace, runner: CliRunner, site: Site, tmp_path: Path
) -> None:
    link_workspace(workspace, site)
    check(workspace, runner)
    cache = workspace.root / "campaign" / ".cache" / "linkcards.json"
    network = FakeNetwork()
    publisher = Publisher(
        FakeChannels(ScriptedChannel(network)), media_root=tmp_path, link_cards=CachedCards(cache)
    )
    link = site.url("/konferenz/")
    short = claim_for(f"Programm: {link}", split=True)
    long = claim_for(
        f"Programm: {link} " + "Noch ein Satz dazu. " * 40, split=True, idempotency_key="k2"
    )
    assert publisher.publish(short, lambda: NOW).kind is OutcomeKind.PUBLISHED
    assert publisher.publish(long, lambda: NOW).kind is OutcomeKind.PUBLISHED
    cards = [post.link_card for _, post in network.posts]
    assert cards[0] is not None and cards[0].url == link
    assert len(cards) > 2 and cards[1:] == [None] * (len(cards) - 1)
