"""Which language the command line speaks to a person, and its German words for new messages.

This is the one place where the CLI picks between German and English. Until the CLI moves to
gettext catalogs, messages are written in English (the msgid, as gettext would have it) and
:func:`tr` looks up their German wording in :data:`GERMAN`. A later gettext conversion replaces
:func:`tr` with the catalog lookup and moves :data:`GERMAN` into ``de.po``; callers stay as they
are.

The language follows ``CAMPAIGN_LANG``, then the locale (``LC_ALL``, ``LC_MESSAGES``, ``LANG``),
then a fallback the caller knows (the campaign's language), else English. This module imports
only the standard library.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

LANG_ENV = "CAMPAIGN_LANG"
_LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG")


def _language_of_locale(value: str) -> str | None:
    """``de_DE.UTF-8`` -> ``de``; ``C``, ``POSIX`` and empty values say nothing."""
    code = value.split(".", 1)[0].split("@", 1)[0].replace("-", "_").split("_", 1)[0].lower()
    if not code or code in ("c", "posix"):
        return None
    return "de" if code == "de" else "en"


def ui_language(fallback: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """``"de"`` or ``"en"``: ``CAMPAIGN_LANG``, the locale, ``fallback`` (e.g. ``de-DE``), English."""
    env = os.environ if environ is None else environ
    explicit = env.get(LANG_ENV, "").strip()
    if explicit:
        return _language_of_locale(explicit) or "en"
    for name in _LOCALE_VARIABLES:
        found = _language_of_locale(env.get(name, "").strip())
        if found is not None:
            return found
    if fallback and fallback.lower().startswith("de"):
        return "de"
    return "en"


#: German wording of new CLI messages, keyed by their English text (the future msgids).
GERMAN: dict[str, str] = {
    # missing configuration
    "no configuration found: there is no config.toml in {folder} and CAMPAIGN_CONFIG is not set": (
        "keine Konfiguration gefunden: in {folder} liegt keine config.toml, und "
        "CAMPAIGN_CONFIG ist nicht gesetzt"
    ),
    "start a new campaign here with 'campaign init', or name an existing configuration with "
    "'campaign --config PATH/config.toml {command}'": (
        "eine neue Kampagne hier anlegen mit 'campaign init', oder eine vorhandene "
        "Konfiguration angeben mit 'campaign --config PFAD/config.toml {command}'"
    ),
    # campaign init: prompts
    "Set up a new campaign in {folder}": "Neue Kampagne anlegen in {folder}",
    "Copy the campaign {source} for a new one in {folder}": (
        "Kampagne {source} als Vorlage für eine neue in {folder} übernehmen"
    ),
    "Short name of the campaign (letters, digits, -)": (
        "Kurzname der Kampagne (Buchstaben, Ziffern, -)"
    ),
    "Name of the campaign": "Name der Kampagne",
    "Hashtag every post must carry (empty: none)": (
        "Hashtag, der in jedem Beitrag stehen muss (leer: keiner)"
    ),
    "Name of the event the campaign leads up to": "Name der Veranstaltung, auf die sie hinführt",
    "Start of the event (e.g. 18.11.2022 10:00)": "Beginn der Veranstaltung (z. B. 18.11.2022 10:00)",
    "End of the event (e.g. 18.11.2022 16:00; empty: none)": (
        "Ende der Veranstaltung (z. B. 18.11.2022 16:00; leer: keins)"
    ),
    "Web address of the event (empty: none)": "Webadresse der Veranstaltung (leer: keine)",
    "First day of the campaign (e.g. 26.10.2022; empty: no limit)": (
        "Erster Tag der Kampagne (z. B. 26.10.2022; leer: keine Grenze)"
    ),
    "Senders, comma-separated, e.g. 'Stadt Soest, Kreisstadt Olpe'": (
        "Absender, durch Komma getrennt, z. B. 'Stadt Soest, Kreisstadt Olpe'"
    ),
    "Networks, comma-separated ({choices})": "Netzwerke, durch Komma getrennt ({choices})",
    "Should a second person approve every post before it goes out?": (
        "Soll jeder Beitrag vor der Veröffentlichung von einer zweiten Person freigegeben werden?"
    ),
    "Keep these senders?": "Diese Absender übernehmen?",
    # campaign init: results
    "wrote {path}": "geschrieben: {path}",
    "copied {count} drafts to {path}": "{count} Entwürfe nach {path} kopiert",
    "check the date in {path}: it is not relative to the event (T-…)": (
        "Datum in {path} prüfen: es ist nicht relativ zur Veranstaltung angegeben (T-…)"
    ),
    "Next steps:": "Nächste Schritte:",
    "1. enter each account in {config} (the commented examples show what each network needs)": (
        "1. die Konten in {config} eintragen (die auskommentierten Beispiele zeigen, was jedes "
        "Netzwerk braucht)"
    ),
    "2. write a first draft in {posts}/<sender>/01-name.md": (
        "2. einen ersten Entwurf schreiben in {posts}/<absender>/01-name.md"
    ),
    "3. run 'campaign check' (docs/schnellstart.md explains the rest)": (
        "3. 'campaign check' aufrufen (docs/schnellstart.md erklärt den Rest)"
    ),
    # campaign init: refusals
    "{path} already exists; pass --force to overwrite it": (
        "{path} gibt es schon; mit --force wird die Datei überschrieben"
    ),
    "{option} is needed when there is no terminal to ask in (or leave out --no-input)": (
        "{option} wird gebraucht, wenn nicht nachgefragt werden kann (oder --no-input weglassen)"
    ),
    "the new campaign file would have errors; nothing was written": (
        "die neue Kampagnendatei hätte Fehler; es wurde nichts geschrieben"
    ),
    # times given on the command line
    "{option}: {when} is in the past (now: {now})": (
        "{option}: {when} liegt in der Vergangenheit (jetzt: {now})"
    ),
    "{option}: {when} is before the campaign starts ({start})": (
        "{option}: {when} liegt vor dem Beginn der Kampagne ({start})"
    ),
    "{option}: {when} is after the campaign ends ({end})": (
        "{option}: {when} liegt nach dem Ende der Kampagne ({end})"
    ),
    "no free slot before the campaign ends ({end}); choose a time with --at": (
        "kein freier Termin mehr vor dem Ende der Kampagne ({end}); mit --at eine Zeit wählen"
    ),
    "warning": "Warnung",
    # campaign check: a draft's first comment
    "first_comment: {channels} cannot comment on its own posts; only {able} take a first "
    "comment (remove the key, or put the hashtags or the link into the text)": (
        "first_comment: {channels} kann eigene Beiträge nicht kommentieren; einen ersten "
        "Kommentar nehmen nur {able} (den Schlüssel entfernen oder Hashtags bzw. Link in den "
        "Text schreiben)"
    ),
    "first_comment goes out on {takers} only: {channels} cannot comment on its own posts, the "
    "post goes out there without it": (
        "first_comment erscheint nur auf {takers}: {channels} kann eigene Beiträge nicht "
        "kommentieren, der Beitrag erscheint dort ohne ihn"
    ),
    "first_comment: {problem}": "first_comment: {problem}",
}


def tr(message: str, lang: str | None = None, **values: object) -> str:
    """``message`` in the user's language (German when :data:`GERMAN` has it), formatted."""
    chosen = lang or ui_language()
    text = GERMAN.get(message, message) if chosen == "de" else message
    return text.format(**values) if values else text
