"""A report fit to send: names instead of keys, reasons for readers, and the campaign's
logo, notice and footer from ``[report]`` (the logo confined to the campaign's folder)."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from campaign_scheduler.campaign import load_campaign
from campaign_scheduler.cli import app
from campaign_scheduler.reports import Format, Lang, render
from campaign_scheduler.reports.build import build_report
from campaign_scheduler.reports.layout import excerpt
from campaign_scheduler.reports.model import ReportBranding
from campaign_scheduler.store.engine import Store
from conftest import Workspace
from report_data import GENERATED_AT, known_store

# A 1x1 transparent PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
NOTICE = "Gefördert vom Bundesministerium für Wohnen, Stadtentwicklung und Bauwesen"
FOOTER = "Südwestfalen Agentur GmbH · Olpe · smartcities-suedwestfalen.com"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    known = known_store(f"sqlite:///{tmp_path_factory.mktemp('brand') / 'known.db'}")
    yield known
    known.dispose()


def test_top_posts_show_the_beginning_of_the_text_and_the_senders_name(store: Store) -> None:
    report = build_report(store, "testlauf", now=GENERATED_AT)
    html = render(report, Format.HTML, Lang.DE)
    top = html[html.index('id="t-top"') :]
    top = top[: top.index("</table>")]
    assert "<td>Text von soest/01-auftakt #5malklug</td>" in top
    assert "<td>Stadt Soest</td>" in top
    assert ">soest/01-auftakt<" not in top


def test_long_texts_are_cut_at_a_word() -> None:
    text = (
        "Soest will bis 2030 eine klimaneutrale Smart City sein.\n\nWie das gehen soll, "
        "erzählen wir am 18. November. #5malklug"
    )
    assert excerpt(text) == "Soest will bis 2030 eine klimaneutrale Smart City sein …"
    assert excerpt("Kurz. #5malklug") == "Kurz. #5malklug"


@pytest.mark.parametrize("lang", [Lang.DE, Lang.EN])
def test_reasons_name_no_configuration_keys(store: Store, lang: Lang) -> None:
    report = build_report(store, "testlauf", now=GENERATED_AT)
    for fmt in (Format.HTML, Format.MD, Format.TABLE):
        text = render(report, fmt, lang)
        assert "not_after" not in text and "rules.grace" not in text and "daemon" not in text


def test_notice_footer_and_logo_are_printed(store: Store) -> None:
    logo = "data:image/png;base64," + base64.b64encode(PNG).decode()
    report = replace(
        build_report(store, "testlauf", now=GENERATED_AT),
        branding=ReportBranding(logo_data_uri=logo, notice=NOTICE, footer=FOOTER),
    )
    html = render(report, Format.HTML, Lang.DE)
    assert f'<p class="notice">{NOTICE}</p>' in html
    assert f'<p class="closing">{FOOTER}</p>' in html
    sources = re.findall(r'src="([^"]*)"', html)
    assert sources == [logo]  # embedded: nothing is fetched
    markdown = render(report, Format.MD, Lang.DE)
    assert NOTICE in markdown and FOOTER in markdown


REPORT_SECTION = """
[report]
logo = "{logo}"
notice = "{notice}"
footer = "{footer}"
"""


def with_report_section(ws: Workspace, logo: str) -> None:
    text = ws.campaign_file.read_text(encoding="utf-8")
    ws.campaign_file.write_text(
        text + REPORT_SECTION.format(logo=logo, notice=NOTICE, footer=FOOTER), encoding="utf-8"
    )


def test_the_report_command_embeds_the_campaigns_logo(
    workspace: Workspace, runner: CliRunner, tmp_path: Path
) -> None:
    (workspace.campaign_file.parent / "logo.png").write_bytes(PNG)
    with_report_section(workspace, "logo.png")
    config = ["--config", str(workspace.config_file)]
    assert runner.invoke(app, [*config, "load"]).exit_code == 0
    out = tmp_path / "bericht.html"
    result = runner.invoke(app, [*config, "report", "--format", "html", "--output", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert 'src="data:image/png;base64,' in html
    assert NOTICE in html and FOOTER in html


@pytest.mark.parametrize(
    ("logo", "message"),
    [
        ("../config.toml", "must be inside the campaign's folder"),
        ("/etc/hostname", "must be inside the campaign's folder"),
        ("logo.gif", "must be a PNG, JPEG or SVG file"),
        ("fehlt.png", "not found in"),
    ],
)
def test_a_logo_outside_the_campaign_folder_is_refused_with_its_line(
    workspace: Workspace, logo: str, message: str
) -> None:
    (workspace.campaign_file.parent / "logo.gif").write_bytes(b"GIF89a")
    with_report_section(workspace, logo)
    campaign, problems = load_campaign(workspace.campaign_file)
    assert campaign is not None
    errors = [p for p in problems if p.severity.value == "error"]
    assert len(errors) == 1 and message in errors[0].message
    lines = workspace.campaign_file.read_text(encoding="utf-8").splitlines()
    assert errors[0].line is not None and lines[errors[0].line - 1].startswith("logo = ")


def test_a_logo_that_became_a_link_out_of_the_folder_is_refused(
    workspace: Workspace, tmp_path: Path
) -> None:
    from campaign_scheduler.errors import InputError
    from campaign_scheduler.reports.branding import branding

    logo = workspace.campaign_file.parent / "logo.png"
    logo.write_bytes(PNG)
    with_report_section(workspace, "logo.png")
    campaign, _ = load_campaign(workspace.campaign_file)
    assert campaign is not None
    outside = tmp_path / "secret.png"
    outside.write_bytes(PNG)
    logo.unlink()
    logo.symlink_to(outside)
    with pytest.raises(InputError, match="is not inside"):
        branding(campaign.report, campaign.path.parent)
