"""The preview page's labels in German and English: the one place for its strings (the German
is in the gettext catalog)."""

from __future__ import annotations

from campaign_scheduler.uilang import N_, tr

_WORDS: dict[str, str] = {
    # key: English msgid (German in the gettext catalog)
    "title": N_("Preview"),
    "due": N_("Due"),
    "sender": N_("Sender"),
    "account": N_("Account"),
    "no_time": N_("no valid time"),
    "fold": N_("… more"),
    "count": N_("{count} of {limit} {unit}"),
    "count_nolimit": N_("{count} {unit}"),
    "folded": N_("Visible in the feed before the fold: {shown} of {total} characters"),
    "too_long": N_("Too long: {message}"),
    "part": N_("Part {n} of {total}"),
    "thread": N_("Published as a thread of {total} posts"),
    "split_failed": N_("Cannot be split: {message}"),
    "alt": N_("Alt text"),
    "no_alt": N_("no alt text"),
    "crop": N_("Cropped to {ratio}"),
    "uncropped": N_("uncropped"),
    "media_missing": N_("File not found: {name}"),
    "media_unshown": N_("{name}: not an image format the preview can show"),
    "links_plain": N_("Addresses in the text cannot be tapped here."),
    "card_missing": N_("No link card stored for {url} (campaign check fetches it)"),
    "card_failed": N_("No link card for {url}: {reason}"),
    "no_accounts": N_("This post goes to no configured account."),
    "footnote": N_(
        "The fold and the image frames follow the networks' documented display rules and are approximations; the apps change them without notice."
    ),
}


class Words:
    """Labels for one language: ``de`` for a German campaign, else English."""

    def __init__(self, language: str) -> None:
        self.index = 0 if language.lower().startswith("de") else 1
        self.code = "de" if self.index == 0 else "en"

    def __call__(self, key: str, **values: object) -> str:
        return tr(_WORDS[key], self.code, **values)

    def unit(self, unit: str) -> str:
        """A counting unit of :mod:`campaign_scheduler.channels.text` in this language."""
        return tr(unit, self.code)

    def said(self, message: str) -> str:
        """A message of the catalog (a link card's problem) in this language."""
        return tr(message, self.code)
