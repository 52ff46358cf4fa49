"""Which language the command line speaks to a person, and the lookup of its words.

Messages are written in English in the code (the gettext msgid) and looked up with :func:`tr`
(or :func:`trn` for counts) in the gettext catalog ``locale/<lang>/LC_MESSAGES/campaign.mo``
shipped inside the package. ``make catalogs`` (``python -m campaign_scheduler.catalogs``)
extracts every msgid with Babel into ``locale/campaign.pot``, merges it into the ``.po`` files
(the source of truth for translations) and compiles the ``.mo`` files.

The language is, first found wins:

1. ``campaign --lang de|en`` (:func:`set_language`, called by the root command before any
   command, and so any help text, is built),
2. ``CAMPAIGN_LANG``,
3. ``[ui] language`` in the configuration (peeked at by :func:`peek_config_language`),
4. the locale (``LC_ALL``, ``LC_MESSAGES``, ``LANG``): German for ``de_*``, English for others,
5. a fallback the caller knows (the campaign's language), else English.

This module imports only the standard library (gettext is cheap; Babel is not imported here).
Strings that cannot be looked up where they are written (tables of words, dictionaries) are
marked with :func:`N_` so that extraction finds them, and looked up with :func:`tr` where used.
"""

from __future__ import annotations

import gettext
import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Self

LANG_ENV = "CAMPAIGN_LANG"
LANGUAGES = ("de", "en")
DOMAIN = "campaign"
LOCALE_DIR = Path(__file__).parent / "locale"
_LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG")

#: ``--lang`` of this invocation; None when not given.
_chosen: str | None = None
#: ``[ui] language`` of the configuration this invocation reads; None when it has none.
_configured: str | None = None


def _language_of_locale(value: str) -> str | None:
    """``de_DE.UTF-8`` -> ``de``; ``C``, ``POSIX`` and empty values say nothing."""
    code = value.split(".", 1)[0].split("@", 1)[0].replace("-", "_").split("_", 1)[0].lower()
    if not code or code in ("c", "posix"):
        return None
    return "de" if code == "de" else "en"


def normalize(value: str) -> str | None:
    """``de``, ``de-DE``, ``de_DE.UTF-8`` -> ``de``; other languages -> ``en``; empty -> None."""
    return _language_of_locale(value.strip())


def set_language(option: str | None, configured: str | None = None) -> None:
    """What this invocation was told: ``--lang`` and the configuration's ``[ui] language``."""
    global _chosen, _configured
    _chosen = normalize(option) if option else None
    _configured = normalize(configured) if configured else None


def ui_language(fallback: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """``"de"`` or ``"en"``: ``--lang``, ``CAMPAIGN_LANG``, ``[ui] language``, the locale,
    ``fallback`` (e.g. the campaign's ``de-DE``), else English."""
    if _chosen is not None:
        return _chosen
    env = os.environ if environ is None else environ
    explicit = env.get(LANG_ENV, "").strip()
    if explicit:
        return _language_of_locale(explicit) or "en"
    if _configured is not None:
        return _configured
    for name in _LOCALE_VARIABLES:
        found = _language_of_locale(env.get(name, "").strip())
        if found is not None:
            return found
    if fallback and fallback.lower().startswith("de"):
        return "de"
    return "en"


def peek_config_language(
    option: Path | None, environ: Mapping[str, str] | None = None
) -> str | None:
    """``[ui] language`` of the configuration a command will read (``--config``, else
    ``$CAMPAIGN_CONFIG``, else ``./config.toml``), read early so that help texts can follow it.
    A missing or broken file says nothing here: loading it later reports that."""
    env = os.environ if environ is None else environ
    path = option or (Path(env["CAMPAIGN_CONFIG"]) if env.get("CAMPAIGN_CONFIG") else None)
    if path is None:
        path = Path("config.toml")
    try:
        raw = path.expanduser().read_bytes()
    except OSError:
        return None
    if b"[ui]" not in raw.replace(b" ", b""):
        return None  # no need to parse (keeps tomllib out of most start-ups)
    import tomllib

    try:
        ui = tomllib.loads(raw.decode("utf-8")).get("ui")
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None
    value = ui.get("language") if isinstance(ui, dict) else None
    return value if isinstance(value, str) and value.strip() in LANGUAGES else None


@cache
def catalog(lang: str) -> gettext.NullTranslations:
    """The compiled catalog of ``lang``; English is the msgids themselves."""
    if lang == "en":
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang], fallback=True)


def N_(message: str) -> str:
    """Marks ``message`` for extraction where it is not looked up at once (tables of words)."""
    return message


#: Transitional: German wording of new messages written by work that began before the gettext
#: catalogs, keyed by msgid. ``make catalogs`` copies these into ``de/campaign.po``; then the
#: entries are deleted here (a test fails while any remain).
GERMAN: dict[str, str] = {}


class Msg(str):
    """English text (so ``--json`` and logs stay language-neutral) that remembers its msgid
    and values, so that :func:`tr` can say it in the user's language when it is shown."""

    msgid: str
    values: dict[str, object]

    def __new__(cls, msgid: str, /, **values: object) -> Self:
        text = super().__new__(cls, msgid.format(**values) if values else msgid)
        text.msgid = msgid
        text.values = values
        return text

    def __str__(self) -> str:
        return self  # str(exc) of an error raised with a Msg keeps it translatable


def msg(message: str, /, **values: object) -> str:
    """``message`` formatted with ``values`` in English, translated later where :func:`tr`
    shows it (errors and problems raised far from the command line)."""
    return Msg(message, **values)


def tr(message: str, lang: str | None = None, /, **values: object) -> str:
    """``message`` in the user's language (or ``lang``), formatted with ``values``. A
    :class:`Msg` is looked up by its msgid, and its values (and theirs) too."""
    if isinstance(message, Msg) and not values:
        values = {k: tr(v, lang) if isinstance(v, Msg) else v for k, v in message.values.items()}
        message = message.msgid
        if not values:
            return tr(message, lang)
    chosen = lang or ui_language()
    text = message
    if chosen != "en":
        text = catalog(chosen).gettext(message)
        if text == message:
            text = GERMAN.get(message, message) if chosen == "de" else message
    if not values:
        return text
    return text.format(**{k: tr(v, lang) if isinstance(v, Msg) else v for k, v in values.items()})


def trn(singular: str, plural: str, n: int, lang: str | None = None, /, **values: object) -> str:
    """The singular or plural form for ``n`` in the user's language; ``{n}`` is ``n``."""
    chosen = lang or ui_language()
    if chosen == "en":
        text = singular if n == 1 else plural
    else:
        text = catalog(chosen).ngettext(singular, plural, n)
    return text.format(n=n, **values)


#: A delivery's state as a person reads it (the states themselves stay English in --json).
STATES: dict[str, str] = {
    "pending": N_("pending"),
    "retry_wait": N_("waiting to retry"),
    "publishing": N_("publishing"),
    "published": N_("published"),
    "failed": N_("failed"),
    "expired": N_("expired"),
    "cancelled": N_("cancelled"),
    "unknown": N_("unknown"),
}


def state_word(state: str, lang: str | None = None) -> str:
    """``pending`` -> ``ausstehend`` in German; unknown states as they are."""
    return tr(STATES[state], lang) if state in STATES else state


def state_msg(state: str) -> str:
    """A delivery's state inside a :func:`msg`: the state itself in English text (and so in
    ``--json``), its word (:data:`STATES`) where it is shown."""
    text = Msg(state)
    text.msgid = STATES.get(state, state)
    return text
