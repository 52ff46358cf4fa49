"""Every word an alert says to a person, in one place; the German is in the gettext catalog.

Each text is an English msgid (marked with ``N_`` for extraction) looked up in the catalog of
the language asked for: ``TITLE["de"]``. Keys of :data:`CONDITIONS` are the condition kinds of
:mod:`campaign_scheduler.alerts`; each has a line saying what happened and a line saying what
to do. Placeholders are filled with :meth:`str.format`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from campaign_scheduler.uilang import N_, tr, trn

LANGUAGES = ("de", "en")


class Localized(Mapping[str, str]):
    """One text by language: ``text["de"]`` is the catalog's German of the English msgid."""

    def __init__(self, message: str) -> None:
        self.message = message

    def __getitem__(self, language: str) -> str:
        if language not in LANGUAGES:
            raise KeyError(language)
        return tr(self.message, language)

    def __iter__(self) -> Iterator[str]:
        return iter(LANGUAGES)

    def __len__(self) -> int:
        return len(LANGUAGES)


class LocalizedPair(Mapping[str, tuple[str, str]]):
    """What happened and what to do, by language."""

    def __init__(self, what: str, todo: str) -> None:
        self.what, self.todo = what, todo

    def __getitem__(self, language: str) -> tuple[str, str]:
        if language not in LANGUAGES:
            raise KeyError(language)
        return tr(self.what, language), tr(self.todo, language)

    def __iter__(self) -> Iterator[str]:
        return iter(LANGUAGES)

    def __len__(self) -> int:
        return len(LANGUAGES)


def language_of(tag: str | None) -> str:
    """The alert language for a campaign language tag: German for ``de``/``de-DE``…, else English."""
    return "de" if (tag or "").lower().split("-")[0] == "de" else "en"


TITLE = Localized(N_("campaign-scheduler ({campaign}): {count} thing(s) need a person"))
TODO = Localized(N_("What to do"))
MORE = Localized(N_("… and {count} more (campaign status)"))

#: kind -> language -> (what happened, what to do)
CONDITIONS: dict[str, LocalizedPair] = {
    "delivery_failed": LocalizedPair(
        N_("{post} on {account} failed: {reason}"),
        N_(
            "See 'campaign history --post {post}', fix the text or the account, then 'campaign "
            "load' or 'campaign queue' again."
        ),
    ),
    "comment_failed": LocalizedPair(
        N_("{post} on {account} is out ({url}), but its first comment is not: {reason}"),
        N_(
            "Add the comment by hand under the post (its text is in 'campaign history "
            "--post {post}') or change it; the post itself stays as it is."
        ),
    ),
    "delivery_expired": LocalizedPair(
        N_("{post} on {account} did not go out and its deadline has passed: {reason}"),
        N_(
            "If it still matters, post it by hand or plan it again with 'campaign reschedule "
            "{post} --at …'."
        ),
    ),
    "delivery_unknown": LocalizedPair(
        N_("Whether {post} went out on {account} is unknown: {reason}"),
        N_(
            "Look at the account, then 'campaign resolve {post} --account {account} --published "
            "URL' or '--not-published'."
        ),
    ),
    "account_held": LocalizedPair(
        N_("Account {account} is held, its credentials were refused: {reason}"),
        N_(
            "Renew the token or password (environment variable or file), then run 'campaign "
            "channels verify', which releases the account."
        ),
    ),
    "token_expiring": LocalizedPair(
        N_("The token of {account} expires on {expires}"),
        N_(
            "Run 'campaign accounts connect {account}' to connect the account again; see "
            "docs/going-live.md."
        ),
    ),
    "token_expiring_before_post": LocalizedPair(
        N_("The token of {account} expires on {expires}, before its last scheduled post on {last}"),
        N_(
            "Run 'campaign accounts connect {account}' to connect the account again; see "
            "docs/going-live.md."
        ),
    ),
    "rate_limited": LocalizedPair(
        N_(
            "{post} on {account} is held by a rate limit until {until}, past half of its grace "
            "({grace})"
        ),
        N_(
            "If later is too late, post it by hand and 'campaign cancel {post} --account "
            "{account}'; otherwise nothing."
        ),
    ),
    "daemon_down": LocalizedPair(
        N_(
            "No daemon is running ({state}, last heartbeat: {heartbeat}) and {count} deliveries "
            "are due within the next hour"
        ),
        N_("Start it: 'systemctl start campaign-scheduler' or 'campaign run'."),
    ),
}

DAEMON_STATES = {
    language: {
        state: tr(message, language)
        for state, message in (
            ("never started", N_("never started")),
            ("stopped", N_("stopped")),
            ("stale", N_("stale")),
        )
    }
    for language in LANGUAGES
}
NEVER = Localized(N_("never"))


def human_age(seconds: float, language: str = "en") -> str:
    """A duration as a person says it: "45 s", "12 min", "2 h", "3 Tage" / "3 days".

    One unit, rounded down; days from 36 hours on, so "1868d3h56m32s" becomes "1868 Tage".
    """
    seconds = max(0, int(seconds))
    if seconds < 90:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 90:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 36:
        return f"{hours} h"
    return trn("{n} day", "{n} days", hours // 24, language)
