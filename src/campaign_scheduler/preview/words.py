"""The preview page's labels in German and English: the one place for its strings."""

from __future__ import annotations

from campaign_scheduler.channels import text

_WORDS: dict[str, tuple[str, str]] = {
    # key: (German, English)
    "title": ("Vorschau", "Preview"),
    "due": ("Geplant für", "Due"),
    "sender": ("Absender", "Sender"),
    "account": ("Konto", "Account"),
    "no_time": ("ohne gültige Zeit", "no valid time"),
    "fold": ("… mehr", "… more"),
    "count": ("{count} von {limit} {unit}", "{count} of {limit} {unit}"),
    "count_nolimit": ("{count} {unit}", "{count} {unit}"),
    "folded": (
        "Im Feed sichtbar bis zur Faltung: {shown} von {total} Zeichen",
        "Visible in the feed before the fold: {shown} of {total} characters",
    ),
    "too_long": ("Zu lang: {message}", "Too long: {message}"),
    "part": ("Teil {n} von {total}", "Part {n} of {total}"),
    "thread": (
        "Wird als Thread aus {total} Beiträgen veröffentlicht",
        "Published as a thread of {total} posts",
    ),
    "split_failed": ("Nicht teilbar: {message}", "Cannot be split: {message}"),
    "alt": ("Alternativtext", "Alt text"),
    "no_alt": ("kein Alternativtext", "no alt text"),
    "crop": ("Zuschnitt {ratio}", "Cropped to {ratio}"),
    "uncropped": ("ungeschnitten", "uncropped"),
    "media_missing": ("Datei nicht gefunden: {name}", "File not found: {name}"),
    "media_unshown": (
        "{name}: kein Bildformat, das die Vorschau zeigen kann",
        "{name}: not an image format the preview can show",
    ),
    "links_plain": (
        "Adressen im Text sind hier nicht anklickbar.",
        "Addresses in the text cannot be tapped here.",
    ),
    "card_missing": (
        "Keine Linkvorschau gespeichert für {url} (campaign check holt sie)",
        "No link card stored for {url} (campaign check fetches it)",
    ),
    "card_failed": (
        "Keine Linkvorschau für {url}: {reason}",
        "No link card for {url}: {reason}",
    ),
    "no_accounts": (
        "Dieser Beitrag geht an kein konfiguriertes Konto.",
        "This post goes to no configured account.",
    ),
    "footnote": (
        (
            "Faltung und Bildzuschnitt folgen den dokumentierten Anzeigeregeln der Netzwerke "
            "und sind Näherungen; die Apps ändern sie ohne Ankündigung."
        ),
        (
            "The fold and the image frames follow the networks' documented display rules and "
            "are approximations; the apps change them without notice."
        ),
    ),
}


#: German names of the counting units of :mod:`campaign_scheduler.channels.text`.
_GERMAN_UNITS: dict[str, str] = {
    text.UNIT_MASTODON: "Zeichen (Adressen zählen 23)",
    text.UNIT_GRAPHEMES: "Zeichen (Graphem-Cluster)",
    text.UNIT_UTF8: "UTF-8-Bytes",
    text.UNIT_WEIGHTED: "gewichtete Zeichen",
    text.UNIT_UTF16: "UTF-16-Einheiten",
    text.UNIT_THREADS: "Zeichen (Emoji zählen ihre UTF-8-Bytes)",
    text.UNIT_HASHTAGS: "Hashtags",
}


class Words:
    """Labels for one language: ``de`` for a German campaign, else English."""

    def __init__(self, language: str) -> None:
        self.index = 0 if language.lower().startswith("de") else 1
        self.code = "de" if self.index == 0 else "en"

    def __call__(self, key: str, **values: object) -> str:
        return _WORDS[key][self.index].format(**values)

    def unit(self, unit: str) -> str:
        return _GERMAN_UNITS.get(unit, unit) if self.index == 0 else unit
