"""The campaign file's ``[report]`` turned into what a rendered report embeds."""

from __future__ import annotations

import base64
from pathlib import Path

from campaign_scheduler.campaign import LOGO_TYPES, MAX_LOGO_BYTES, ReportSettings
from campaign_scheduler.errors import InputError
from campaign_scheduler.reports.model import ReportBranding
from campaign_scheduler.uilang import msg


def branding(settings: ReportSettings, campaign_folder: Path) -> ReportBranding:
    """Notice, footer and the logo as a data URI (the HTML report fetches nothing).

    The logo was confined to the campaign's folder when the campaign file was read; it is
    checked again here, since the file may have been swapped for a link in the meantime.
    """
    logo_uri = None
    if settings.logo is not None:
        logo = settings.logo.resolve()
        if not logo.is_relative_to(campaign_folder.resolve()):
            raise InputError(
                msg(
                    "report.logo {logo} is not inside {folder}",
                    logo=settings.logo,
                    folder=campaign_folder,
                )
            )
        try:
            data = logo.read_bytes()
        except OSError as exc:
            raise InputError(
                msg("report.logo {logo}: {reason}", logo=logo, reason=exc.strerror or exc)
            ) from None
        if len(data) > MAX_LOGO_BYTES:
            raise InputError(
                msg(
                    "report.logo {logo} is larger than {limit} kB",
                    logo=logo,
                    limit=MAX_LOGO_BYTES // 1000,
                )
            )
        kind = LOGO_TYPES[logo.suffix.lower()]
        logo_uri = f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"
    return ReportBranding(logo_data_uri=logo_uri, notice=settings.notice, footer=settings.footer)
