"""Why a delivery is where it is: a stable key with values, worded when shown.

The scheduler writes each of its own reasons as a :class:`Reason`: the delivery keeps the
English wording for the record (``state_reason``, as ``history`` and the audit trail show it)
and the key with its values (``state_reason_data``). Readers get the reason worded for them in
their language from the key (:meth:`Reason.for_readers`): the report says "not published within
2 hours of its planned time" instead of "more than 2h (rules.grace) late", in German or English,
without parsing the English text. A network's own message is a value, kept as sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from campaign_scheduler.uilang import N_, tr, trn

#: How the report's query words a published post whose first comment is missing (the network's
#: refusal follows); :meth:`Reason.from_record` gives it its key back.
COMMENT_MISSING = "published without its first comment: "

#: What the publish protocol's record tells a person to do with a post that may be out.
RESOLVE_HINT = "check the account and run 'campaign resolve'"

#: key -> (the record's English wording, the readers' wording as msgid). ``{why}`` is a nested
#: reason (or a network's message); ``{grace}`` a duration in seconds. The readers' wording of a
#: post that may be out leaves the hint out: ``status`` says what to do, a report need not.
WORDINGS: dict[str, tuple[str, str]] = {
    "deadline": (
        "not published before its deadline (not_after): {why}",
        N_("not published before its deadline: {why}"),
    ),
    "late": (
        "more than {grace} (rules.grace) late: {why}",
        N_("not published within {grace} of its planned time: {why}"),
    ),
    "never_approved": ("it was never approved", N_("the post was never approved")),
    "account_attention": (
        "account {account} needed attention ({detail})",
        N_("the account {account} needed checking ({detail})"),
    ),
    "attempts_failed": (
        "{count} attempt(s) failed ({error})",
        N_("{count} attempt(s) failed ({error})"),
    ),
    "no_daemon": (
        "no daemon published it in time",
        N_("the publishing service was not running at the time"),
    ),
    "cancelled_by": ("cancelled by {actor}", N_("withdrawn by {actor}")),
    "draft_removed": ("draft removed", N_("draft deleted")),
    "channel_removed": (
        "account no longer targeted by the draft",
        N_("the draft no longer names this account"),
    ),
    "held": ("held: the account needs attention", N_("held: the account needs checking")),
    "comment_missing": (
        COMMENT_MISSING + "{error}",
        N_("published without its first comment: {error}"),
    ),
    # The publish protocol's own reasons (publishing/decide.py).
    "deadline_passed": (
        "its deadline passed before it could go out",
        N_("its deadline passed before it could be published"),
    ),
    "next_try_too_late": (
        "the next try would be after its deadline: {error}",
        N_("the next try would have come after its deadline: {error}"),
    ),
    "gave_up": (
        "gave up after {count} attempts: {error}",
        N_("given up after {count} attempts: {error}"),
    ),
    "no_answer": ("an earlier call had no answer", N_("an earlier attempt got no answer")),
    "cannot_tell": (
        "{why}; the network cannot tell whether the post exists, " + RESOLVE_HINT,
        N_("{why}; the network cannot tell whether the post was published"),
    ),
    "earlier_may_have_created": (
        "{error}; an earlier call may have created it, " + RESOLVE_HINT,
        N_("{error}; an earlier attempt may have published it"),
    ),
    "thread_incomplete": (
        "thread incomplete ({out} of {total} parts out): {error}; " + RESOLVE_HINT,
        N_("thread incomplete ({out} of {total} parts published): {error}"),
    ),
    "thread_gave_up": (
        "thread incomplete ({out} of {total} parts out): gave up after {count} "
        "attempts ({error}); " + RESOLVE_HINT,
        N_(
            "thread incomplete ({out} of {total} parts published): given up after {count} "
            "attempts ({error})"
        ),
    ),
    "no_answer_after": (
        "{error}; no answer after {count} attempts, " + RESOLVE_HINT,
        N_("{error}; no answer after {count} attempts, the network may have published it"),
    ),
    "lookup_failed": (
        "lookup after a lost answer failed: {error} ({count} attempts); " + RESOLVE_HINT,
        N_(
            "the network could not be asked whether the post was published: {error} "
            "({count} attempts)"
        ),
    ),
    "gave_up_maybe_out": (
        "gave up after {count} attempts ({error}); an earlier call may have created it, "
        + RESOLVE_HINT,
        N_("given up after {count} attempts ({error}); an earlier attempt may have published it"),
    ),
    "internal_maybe_out": (
        "internal error while publishing: {error}; it may be out, " + RESOLVE_HINT,
        N_("internal error while publishing ({error}); the post may have been published"),
    ),
    # Why a published post has no first comment (``comment_error``, ``comment_error_data``).
    "comment_refused": (
        "first comment refused: {error}",
        N_("the network refused the first comment: {error}"),
    ),
    "comment_gave_up": (
        "first comment given up after {count} attempts: {error}",
        N_("the first comment was given up after {count} attempts: {error}"),
    ),
    # Why a delivery waits for its next try (``retry_wait``). The record keeps what it kept
    # before (the network's message as sent), readers get it framed in their language.
    "waiting_after_error": ("{error}", N_("{error}; it will be tried again")),
    "waiting_rate_limited": (
        "{error}",
        N_("the network asked to slow down ({error}); it will be tried again when it allows"),
    ),
    "waiting_outcome_unknown": (
        "{error}",
        N_("{error}; the post may be out: this is checked before anything is sent again"),
    ),
    "waiting_lookup_failed": (
        "lookup after a lost answer failed: {error}",
        N_(
            "the network could not be asked whether the post was published ({error}); "
            "it will be asked again"
        ),
    ),
    "waiting_no_progress": ("no progress", N_("no progress; it will be tried again in a minute")),
    "answers_contradict": (
        "the network's answers contradict each other; check the account",
        N_("the network's answers contradict each other"),
    ),
    "said_not_published_expired": (
        "not published (said {actor}) and its deadline has passed",
        N_("not published (said {actor}) and its deadline has passed"),
    ),
}


@dataclass(frozen=True)
class Reason:
    key: str
    values: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.key not in WORDINGS:
            raise KeyError(f"no wording for the reason {self.key!r}")

    def record(self) -> str:
        """The English wording the delivery's record keeps (``state_reason``)."""
        return WORDINGS[self.key][0].format(**self._filled(None))

    def __str__(self) -> str:
        """The record's wording: what a JSON log and ``--json`` show (a person's log line
        asks :meth:`for_readers`)."""
        return self.record()

    def for_readers(self, lang: str) -> str:
        """The reason worded for readers in ``lang`` (no configuration keys)."""
        return tr(WORDINGS[self.key][1], lang, **self._filled(lang))

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            **{k: v.as_json() if isinstance(v, Reason) else v for k, v in self.values.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Reason | None:
        """The reason stored with a delivery; None for none or an unknown key (an older or
        newer program's), whose English record then stands as it is."""
        if not isinstance(data, Mapping) or data.get("key") not in WORDINGS:
            return None
        values = {}
        for name, value in data.items():
            if name == "key":
                continue
            nested = cls.from_json(value) if isinstance(value, Mapping) else None
            if isinstance(value, Mapping) and nested is None:
                return None
            values[name] = nested if nested is not None else value
        return cls(str(data["key"]), values)

    @classmethod
    def from_record(cls, text: str) -> Reason | None:
        """The key of a reason that exists only as worded by a query (the missing comment)."""
        if text.startswith(COMMENT_MISSING):
            return cls("comment_missing", {"error": text[len(COMMENT_MISSING) :]})
        return None

    def _filled(self, lang: str | None) -> dict[str, Any]:
        filled: dict[str, Any] = {}
        for name, value in self.values.items():
            if isinstance(value, Reason):
                filled[name] = value.record() if lang is None else value.for_readers(lang)
            elif name == "grace" and isinstance(value, int | float):
                filled[name] = (
                    _compact(int(value)) if lang is None else duration_words(int(value), lang)
                )
            else:
                filled[name] = value
        return filled


def _compact(seconds: int) -> str:
    from datetime import timedelta

    from campaign_scheduler.timeutil import format_duration

    return format_duration(timedelta(seconds=seconds))


def duration_words(seconds: int, lang: str) -> str:
    """``7200`` -> ``2 Stunden`` / ``2 hours``; ``5400`` -> ``1 Stunde 30 Minuten``."""
    days, rest = divmod(max(0, seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [
        trn("{n} day", "{n} days", days, lang) if days else "",
        trn("{n} hour", "{n} hours", hours, lang) if hours else "",
        trn("{n} minute", "{n} minutes", minutes, lang) if minutes else "",
        trn("{n} second", "{n} seconds", secs, lang) if secs else "",
    ]
    return " ".join(part for part in parts if part) or trn("{n} second", "{n} seconds", 0, lang)
