"""One claimed delivery through the publish protocol: carry out what :func:`decide` says.

The publisher decides nothing itself. It asks :func:`~campaign_scheduler.publishing.decide.
decide` what to do (send, replay, look up, wait, hold, ask a person, expire, fail), does it,
and feeds what happened back in, until the answer is an outcome to record.

A draft's first comment (Instagram, Facebook, LinkedIn) is the delivery's last part: it is
sent after the post (and after a thread's last part) as a comment on the post, with its own
key (:func:`part_key`), recorded in ``parts`` with ``"kind": "comment"``, and settled after a
lost answer by a lookup of the post's comments, like any part. A comment the network refuses
leaves the post published; the record says why the comment is missing.

Before every network write that may create the post it calls the :class:`Ledger` (the
worker's record), which checks and renews the lease and records that the post may now be out;
adapters get the same check as ``OutboundPost.checkpoint`` for their own intermediate writes
(media uploads, containers). A worker whose lease is gone stops before its next write.
"""

from __future__ import annotations

import logging
import mimetypes
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from campaign_scheduler.channels.base import (
    Channel,
    ChannelProvider,
    LinkPreview,
    MediaFile,
    OutboundPost,
    Receipt,
)
from campaign_scheduler.channels.split import split_into_thread
from campaign_scheduler.errors import (
    AuthError,
    CampaignSchedulerError,
    ChannelError,
    OutcomeUnknownError,
    RateLimitedError,
    RejectedError,
    UnavailableError,
)
from campaign_scheduler.media import MediaLocation, MediaRefusedError
from campaign_scheduler.publishing.decide import (
    Abilities,
    Action,
    Do,
    Event,
    Facts,
    decide,
    wait_until,
)
from campaign_scheduler.publishing.policy import RetryPolicy
from campaign_scheduler.publishing.queue import Claim, LeaseLostError, Outcome, OutcomeKind
from campaign_scheduler.reasons import Reason

log = logging.getLogger("campaign_scheduler.publishing")

#: Lookups search a little before the key was first used, for clock skew.
LOOKUP_SLACK = timedelta(minutes=2)

Parts = list[dict[str, str | None]]


def part_key(key: str, index: int) -> str:
    """The idempotency key of part ``index`` of a thread (the first part keeps the key)."""
    return key if index == 0 else f"{key}.{index + 1}"


class Ledger(Protocol):
    """What the publisher writes to the record while it works (the worker implements it).

    Each method raises :class:`LeaseLostError` when the worker no longer holds the delivery.
    """

    def about_to_send(self, claim: Claim, plan: list[str]) -> None:
        """Fence before a write that may create the post: the post may be out from now on."""

    def checkpoint(self, claim: Claim) -> None:
        """Fence before an intermediate write (media, container): the lease is still ours."""

    def part_out(self, claim: Claim, parts: Parts) -> None:
        """Thread parts certainly out (the current part is no longer 'maybe')."""

    def not_out(self, claim: Claim) -> None:
        """A conclusive lookup: the current part is certainly not out."""


class NoLedger:
    """For a publisher used without a record (tests of the publisher alone)."""

    def about_to_send(self, claim: Claim, plan: list[str]) -> None:
        pass

    def checkpoint(self, claim: Claim) -> None:
        pass

    def part_out(self, claim: Claim, parts: Parts) -> None:
        pass

    def not_out(self, claim: Claim) -> None:
        pass


def _describe(error: ChannelError) -> str:
    if error.network_message and error.network_message not in error.message:
        return f"{error.message}: {error.network_message}"
    return error.message


def _media_refusals(post: OutboundPost) -> list[str]:
    """Media the post may not take (outside the sender's folder, not a regular file); the
    adapters' reads go through the same guard, this names the reason before any call."""
    refusals = []
    for media in post.media:
        if media.location is None:
            continue
        try:
            media.location.locate()
        except MediaRefusedError as exc:
            refusals.append(exc.reason)
    return refusals


@dataclass
class _Progress:
    """What this claim knows so far (starts as the record says)."""

    plan: list[str]
    parts: Parts
    maybe_out: bool
    first_at: datetime | None = None  # when the first part went out, if in this claim


def _total(claim: Claim, progress: _Progress) -> int:
    """How many parts the delivery has: the thread's (at least the post) and its comment."""
    return max(len(progress.plan), 1) + (1 if claim.first_comment else 0)


def _at_comment(claim: Claim, progress: _Progress) -> bool:
    """Whether the next part is the first comment (everything of the post itself is out)."""
    return claim.first_comment is not None and len(progress.parts) >= max(len(progress.plan), 1)


class Publisher:
    def __init__(
        self,
        channels: ChannelProvider,
        *,
        media_root: Path,
        retry: RetryPolicy | None = None,
        rng: random.Random | None = None,
        link_cards: Callable[[str], LinkPreview | None] | None = None,
    ) -> None:
        self.channels = channels
        #: The card of a text's first link (fetched and cached by check/load), or None.
        self.link_cards = link_cards
        self.media_root = media_root
        self.retry = retry or RetryPolicy()
        self.rng = rng

    def outbound(self, claim: Claim) -> OutboundPost:
        sender = claim.post_key.split("/", 1)[0]
        folder = self.media_root / sender
        media = tuple(
            MediaFile(
                path=folder / item["path"],
                alt=item.get("alt"),
                mime_type=mimetypes.guess_type(str(item["path"]))[0] or "application/octet-stream",
                location=MediaLocation(self.media_root, sender, str(item["path"])),
            )
            for item in claim.media
        )
        # A card goes with a post without images (a thread's parts go without: see _part).
        card = None
        if self.link_cards is not None and not media:
            card = self.link_cards(claim.text)
        return OutboundPost(
            text=claim.text,
            language=claim.language,
            idempotency_key=claim.idempotency_key,
            media=media,
            link_card=card,
        )

    def publish(
        self, claim: Claim, clock: Callable[[], datetime], ledger: Ledger | None = None
    ) -> Outcome:
        """Run the protocol for one claimed delivery and return what to record.

        Never raises for a single delivery's trouble: an error outside the network call (a
        bug in splitting, validating, rendering) is recorded like any other outcome."""
        progress = _Progress(claim.plan or [], list(claim.parts), claim.maybe_out)
        try:
            return self._run(claim, clock, ledger or NoLedger(), progress)
        except LeaseLostError as exc:
            log.warning("%s", exc.message)
            return Outcome(OutcomeKind.LEASE_LOST, error=exc.message)
        except Exception as exc:
            log.exception("publishing %s on %s failed", claim.post_key, claim.account_name)
            error = f"{type(exc).__name__}: {exc}"
            if progress.maybe_out or progress.parts:
                why = Reason("internal_maybe_out", {"error": error})
                return Outcome(OutcomeKind.UNKNOWN, error=why.record(), maybe_out=True, reason=why)
            return Outcome(OutcomeKind.FAILED, error=f"internal error while publishing: {error}")

    def _plan(self, claim: Claim, channel: Channel, post: OutboundPost) -> list[str]:
        if not claim.split:
            return [post.text]
        return split_into_thread(
            post.text, lambda text: not channel.validate(replace(post, text=text))
        )

    def _run(
        self,
        claim: Claim,
        clock: Callable[[], datetime],
        ledger: Ledger,
        progress: _Progress,
    ) -> Outcome:
        try:
            channel = self.channels.channel_for(claim.account_name)
        except CampaignSchedulerError as exc:
            return self._outcome(Action(Do.HOLD, exc.message), progress)
        abilities = Abilities(channel.idempotency_window, channel.can_look_up)
        post = self.outbound(claim)
        event, error, not_before = Event.CLAIMED, None, None
        recovered_by: str | None = None
        # Each step either makes progress or ends in an outcome; the budget only guards
        # against a network that keeps contradicting itself.
        for _ in range(4 * _total(claim, progress) + 8):
            facts = Facts(
                now=clock(),
                deadline=claim.deadline,
                attempt=claim.attempt_number,
                maybe_out=progress.maybe_out,
                parts_out=len(progress.parts),
                parts_total=_total(claim, progress),
                key_first_used=claim.key_first_used,
                comment=_at_comment(claim, progress),
            )
            action = decide(
                facts,
                event,
                abilities,
                policy=self.retry,
                error=error,
                not_before=not_before,
                rng=self.rng,
            )
            if action.do in (Do.SEND, Do.REPLAY):
                if not progress.plan:
                    try:
                        progress.plan = self._plan(claim, channel, post)
                    except RejectedError as exc:
                        event, error = Event.REJECTED, exc.message
                        continue
                part = self._part(claim, post, progress)
                if action.do is Do.SEND and not progress.maybe_out and not progress.parts:
                    problems = [*_media_refusals(post), *channel.validate(part)]
                    if problems:
                        event, error = Event.REJECTED, "; ".join(problems)
                        continue
                event, error, not_before, receipt = self._send(
                    claim, channel, part, ledger, progress
                )
            elif action.do is Do.LOOK_UP:
                event, error, receipt = self._look_up(claim, channel, post, ledger, progress)
                if receipt is not None:
                    recovered_by = "lookup"
            elif action.do is Do.SKIP_COMMENT:
                return self._published(progress, clock, recovered_by, comment_error=action.why)
            else:
                return self._outcome(action, progress)
            if receipt is None:
                continue
            done: dict[str, str | None] = {"id": receipt.remote_id, "url": receipt.url}
            if _at_comment(claim, progress):
                done["kind"] = "comment"
            elif not progress.parts:
                progress.first_at = receipt.published_at
            progress.parts.append(done)
            progress.maybe_out = False
            if _total(claim, progress) > 1:
                ledger.part_out(claim, progress.parts)
            if len(progress.parts) >= _total(claim, progress):
                return self._published(progress, clock, recovered_by)
            event, error, not_before = Event.CLAIMED, None, None
        return self._outcome(
            Action(Do.ASK, Reason("answers_contradict").record(), why=Reason("answers_contradict"))
            if progress.maybe_out
            else wait_until(Reason("waiting_no_progress"), at=clock() + timedelta(minutes=1)),
            progress,
        )

    def _part(self, claim: Claim, post: OutboundPost, progress: _Progress) -> OutboundPost:
        index = len(progress.parts)
        if _at_comment(claim, progress):
            assert claim.first_comment is not None
            return replace(
                post,
                text=claim.first_comment,
                idempotency_key=part_key(claim.idempotency_key, index),
                media=(),
                link_card=None,
                comment_on=progress.parts[0]["id"],
            )
        return replace(
            post,
            text=progress.plan[index],
            idempotency_key=part_key(claim.idempotency_key, index),
            media=post.media if index == 0 else (),
            reply_to=progress.parts[-1]["id"] if progress.parts else None,
            # A thread's parts go without the link card (which part would it belong to?).
            link_card=post.link_card if len(progress.plan) == 1 else None,
        )

    def _send(
        self,
        claim: Claim,
        channel: Channel,
        part: OutboundPost,
        ledger: Ledger,
        progress: _Progress,
    ) -> tuple[Event, str | None, datetime | None, Receipt | None]:
        """One write to the network; what happened, as an event for :func:`decide`."""
        ledger.about_to_send(claim, progress.plan)
        before, progress.maybe_out = progress.maybe_out, True
        fenced = replace(part, checkpoint=lambda: ledger.checkpoint(claim))
        try:
            return Event.CLAIMED, None, None, channel.publish(fenced)
        except LeaseLostError:
            raise
        except AuthError as exc:
            progress.maybe_out = before
            return Event.AUTH, _describe(exc), None, None
        except RejectedError as exc:
            progress.maybe_out = before
            return Event.REJECTED, f"rejected by {channel.name}: {_describe(exc)}", None, None
        except RateLimitedError as exc:
            progress.maybe_out = before
            return Event.RATE_LIMITED, _describe(exc), exc.retry_at, None
        except UnavailableError as exc:
            progress.maybe_out = before
            return Event.UNAVAILABLE, _describe(exc), None, None
        except OutcomeUnknownError as exc:
            return Event.LOST_ANSWER, _describe(exc), None, None
        except CampaignSchedulerError as exc:  # e.g. a secret that cannot be read
            progress.maybe_out = before
            return Event.AUTH, exc.message, None, None
        except Exception as exc:  # a bug in an adapter: the post may or may not exist
            log.exception("adapter %s failed unexpectedly", channel.name)
            return (
                Event.LOST_ANSWER,
                f"unexpected error in the {channel.name} adapter: {exc}",
                None,
                None,
            )

    def _look_up(
        self,
        claim: Claim,
        channel: Channel,
        post: OutboundPost,
        ledger: Ledger,
        progress: _Progress,
    ) -> tuple[Event, str | None, Receipt | None]:
        resuming = progress.plan or _at_comment(claim, progress)
        part = self._part(claim, post, progress) if resuming else post
        ledger.checkpoint(claim)
        try:
            found = channel.look_up(part, since=claim.key_first_used - LOOKUP_SLACK)
        except ChannelError as exc:
            return Event.LOOKUP_FAILED, _describe(exc), None
        except Exception as exc:
            log.exception("lookup on %s failed unexpectedly", channel.name)
            return (
                Event.LOOKUP_FAILED,
                f"unexpected error in the {channel.name} adapter: {exc}",
                None,
            )
        if found is None:
            ledger.not_out(claim)
            progress.maybe_out = False
            return Event.CLAIMED, None, None
        return Event.CLAIMED, None, found

    def _published(
        self,
        progress: _Progress,
        clock: Callable[[], datetime],
        how: str | None,
        *,
        comment_error: Reason | None = None,
    ) -> Outcome:
        detail: dict[str, object] = {"recovered_by": how} if how else {}
        first = progress.parts[0]
        if len(progress.plan) > 1:
            detail["parts"] = len(progress.plan)
        comment = next((p for p in progress.parts if p.get("kind") == "comment"), None)
        if comment is not None:
            detail["comment"] = comment["url"] or comment["id"]
        single = len(progress.plan) <= 1 and progress.first_at is not None
        return Outcome(
            OutcomeKind.PUBLISHED,
            remote_id=first["id"],
            remote_url=first["url"],
            published_at=progress.first_at if single else clock(),
            detail=detail,
            comment_error=None if comment_error is None else comment_error.record(),
            comment_reason=comment_error,
        )

    @staticmethod
    def _outcome(action: Action, progress: _Progress) -> Outcome:
        maybe = progress.maybe_out
        if action.do is Do.WAIT:
            kind = OutcomeKind.RATE_LIMITED if action.rate_limited else OutcomeKind.RETRY
            return Outcome(
                kind,
                error=action.reason,
                next_attempt_at=action.at,
                attempt_label=action.label,
                maybe_out=maybe,
                reason=action.why,
            )
        if action.do is Do.HOLD:
            return Outcome(OutcomeKind.AUTH_BROKEN, error=action.reason, maybe_out=maybe)
        if action.do is Do.ASK:
            return Outcome(
                OutcomeKind.UNKNOWN, error=action.reason, maybe_out=True, reason=action.why
            )
        if action.do is Do.EXPIRE:
            return Outcome(OutcomeKind.EXPIRED, error=action.reason, reason=action.why)
        return Outcome(OutcomeKind.FAILED, error=action.reason, reason=action.why)
