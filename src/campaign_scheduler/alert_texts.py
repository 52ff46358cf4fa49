"""Every word an alert or ``status`` says to a person, in German and English, in one place.

Plain dictionaries for now (no gettext); a message catalogue can replace them later without
touching the code that picks them. Keys of :data:`CONDITIONS` are the condition kinds of
:mod:`campaign_scheduler.alerts`; each has a line saying what happened and a line saying what
to do. Placeholders are filled with :meth:`str.format`.
"""

from __future__ import annotations

LANGUAGES = ("de", "en")


def language_of(tag: str | None) -> str:
    """The alert language for a campaign language tag: German for ``de``/``de-DE``…, else English."""
    return "de" if (tag or "").lower().split("-")[0] == "de" else "en"


TITLE = {
    "de": "campaign-scheduler ({campaign}): {count} Meldung(en) brauchen eine Person",
    "en": "campaign-scheduler ({campaign}): {count} thing(s) need a person",
}
TODO = {"de": "Was tun", "en": "What to do"}
MORE = {
    "de": "… und {count} weitere (campaign status)",
    "en": "… and {count} more (campaign status)",
}

#: kind -> language -> (what happened, what to do)
CONDITIONS: dict[str, dict[str, tuple[str, str]]] = {
    "delivery_failed": {
        "de": (
            "{post} auf {account} ist fehlgeschlagen: {reason}",
            (
                "Fehler in 'campaign history --post {post}' ansehen, Text oder Konto korrigieren, "
                "dann 'campaign load' bzw. 'campaign queue' erneut."
            ),
        ),
        "en": (
            "{post} on {account} failed: {reason}",
            (
                "See 'campaign history --post {post}', fix the text or the account, then "
                "'campaign load' or 'campaign queue' again."
            ),
        ),
    },
    "comment_failed": {
        "de": (
            "{post} auf {account} ist erschienen ({url}), der erste Kommentar aber nicht: {reason}",
            (
                "Kommentar von Hand unter den Beitrag setzen (Text in 'campaign history --post "
                "{post}') oder ihn anpassen; der Beitrag selbst bleibt, wie er ist."
            ),
        ),
        "en": (
            "{post} on {account} is out ({url}), but its first comment is not: {reason}",
            (
                "Add the comment by hand under the post (its text is in 'campaign history "
                "--post {post}') or change it; the post itself stays as it is."
            ),
        ),
    },
    "delivery_expired": {
        "de": (
            "{post} auf {account} ist nicht erschienen, die Frist ist verstrichen: {reason}",
            (
                "Wenn der Beitrag noch zählt: von Hand posten oder mit 'campaign reschedule {post} "
                "--at …' neu einplanen."
            ),
        ),
        "en": (
            "{post} on {account} did not go out and its deadline has passed: {reason}",
            (
                "If it still matters, post it by hand or plan it again with "
                "'campaign reschedule {post} --at …'."
            ),
        ),
    },
    "delivery_unknown": {
        "de": (
            "Ob {post} auf {account} erschienen ist, ist unklar: {reason}",
            (
                "Im Konto nachsehen, dann 'campaign resolve {post} --account {account} "
                "--published URL' oder '--not-published'."
            ),
        ),
        "en": (
            "Whether {post} went out on {account} is unknown: {reason}",
            (
                "Look at the account, then 'campaign resolve {post} --account {account} "
                "--published URL' or '--not-published'."
            ),
        ),
    },
    "account_held": {
        "de": (
            "Konto {account} ist angehalten, die Zugangsdaten wurden abgelehnt: {reason}",
            (
                "Token/Passwort erneuern (Umgebungsvariable oder Datei), dann "
                "'campaign channels verify' – das gibt das Konto wieder frei."
            ),
        ),
        "en": (
            "Account {account} is held, its credentials were refused: {reason}",
            (
                "Renew the token or password (environment variable or file), then run "
                "'campaign channels verify', which releases the account."
            ),
        ),
    },
    "token_expiring": {
        "de": (
            "Der Token von {account} läuft am {expires} ab",
            (
                "'campaign accounts connect {account}' ausführen und das Konto neu verbinden; "
                "siehe docs/going-live.md."
            ),
        ),
        "en": (
            "The token of {account} expires on {expires}",
            (
                "Run 'campaign accounts connect {account}' to connect the account again; "
                "see docs/going-live.md."
            ),
        ),
    },
    "token_expiring_before_post": {
        "de": (
            (
                "Der Token von {account} läuft am {expires} ab, vor dem letzten geplanten "
                "Beitrag am {last}"
            ),
            (
                "'campaign accounts connect {account}' ausführen und das Konto neu verbinden; "
                "siehe docs/going-live.md."
            ),
        ),
        "en": (
            "The token of {account} expires on {expires}, before its last scheduled post on {last}",
            (
                "Run 'campaign accounts connect {account}' to connect the account again; "
                "see docs/going-live.md."
            ),
        ),
    },
    "rate_limited": {
        "de": (
            (
                "{post} auf {account} wird durch ein Ratenlimit bis {until} zurückgehalten – "
                "über die Hälfte der Kulanzzeit ({grace}) hinaus"
            ),
            (
                "Wenn es später zu spät ist: von Hand posten und 'campaign cancel {post} "
                "--account {account}'; sonst nichts tun."
            ),
        ),
        "en": (
            (
                "{post} on {account} is held by a rate limit until {until}, past half of its "
                "grace ({grace})"
            ),
            (
                "If later is too late, post it by hand and 'campaign cancel {post} --account "
                "{account}'; otherwise nothing."
            ),
        ),
    },
    "daemon_down": {
        "de": (
            (
                "Kein Daemon läuft ({state}, letztes Lebenszeichen: {heartbeat}) und {count} "
                "Zustellung(en) sind in der nächsten Stunde fällig"
            ),
            "Daemon starten: 'systemctl start campaign-scheduler' oder 'campaign run'.",
        ),
        "en": (
            (
                "No daemon is running ({state}, last heartbeat: {heartbeat}) and {count} "
                "deliveries are due within the next hour"
            ),
            "Start it: 'systemctl start campaign-scheduler' or 'campaign run'.",
        ),
    },
}

DAEMON_STATES = {
    "de": {"never started": "nie gestartet", "stopped": "beendet", "stale": "verstummt"},
    "en": {"never started": "never started", "stopped": "stopped", "stale": "stale"},
}
NEVER = {"de": "nie", "en": "never"}
AGO = {"de": "vor {age}", "en": "{age} ago"}


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
    days = hours // 24
    if language == "de":
        return f"{days} Tag" if days == 1 else f"{days} Tage"
    return f"{days} day" if days == 1 else f"{days} days"
