"""One claimed delivery through the publish protocol: call the network, decide the outcome.

The publisher never decides by guessing: a call whose outcome is unknown is settled by
replaying the delivery's idempotency key while the network still deduplicates it, by looking
the post up where the network can, and otherwise by asking a person (state ``unknown``).
"""

from __future__ import annotations

import logging
import mimetypes
import random
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

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
from campaign_scheduler.publishing.policy import RecoveryAction, RetryPolicy, recovery_action
from campaign_scheduler.publishing.queue import Claim, Outcome, OutcomeKind

log = logging.getLogger("campaign_scheduler.publishing")

#: How soon to replay an idempotency key after a call whose answer was lost.
REPLAY_DELAY = timedelta(seconds=5)
#: Lookups search a little before the key was first used, for clock skew.
LOOKUP_SLACK = timedelta(minutes=2)


def part_key(key: str, index: int) -> str:
    """The idempotency key of part ``index`` of a thread (the first part keeps the key)."""
    return key if index == 0 else f"{key}.{index + 1}"


def _describe(error: ChannelError) -> str:
    if error.network_message and error.network_message not in error.message:
        return f"{error.message}: {error.network_message}"
    return error.message


class Publisher:
    def __init__(
        self,
        channels: ChannelProvider,
        *,
        media_root: Path,
        retry: RetryPolicy | None = None,
        rng: random.Random | None = None,
        progress: Callable[[Claim, list[dict[str, str | None]]], None] | None = None,
        link_cards: Callable[[str], LinkPreview | None] | None = None,
    ) -> None:
        self.channels = channels
        #: The card of a text's first link (fetched and cached by check/load), or None.
        self.link_cards = link_cards
        self.media_root = media_root
        self.progress = progress or (lambda claim, parts: None)
        self.retry = retry or RetryPolicy()
        self.rng = rng

    def outbound(self, claim: Claim) -> OutboundPost:
        folder = self.media_root / claim.post_key.split("/", 1)[0]
        media = tuple(
            MediaFile(
                path=folder / item["path"],
                alt=item.get("alt"),
                mime_type=mimetypes.guess_type(str(item["path"]))[0] or "application/octet-stream",
            )
            for item in claim.media
        )
        # A card goes with a post without images (a thread's parts go without: see publish).
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

    def publish(self, claim: Claim, clock: Callable[[], datetime]) -> Outcome:
        """Run the protocol for one claimed delivery and return what to record."""
        now = clock()
        try:
            channel = self.channels.channel_for(claim.account_name)
        except CampaignSchedulerError as exc:
            return Outcome(OutcomeKind.AUTH_BROKEN, error=exc.message)
        post = self.outbound(claim)
        texts = [post.text]
        if claim.split:
            try:
                texts = split_into_thread(
                    post.text, lambda text: not channel.validate(replace(post, text=text))
                )
            except RejectedError as exc:
                return Outcome(OutcomeKind.FAILED, error=exc.message)
        if len(texts) > 1 or claim.parts:
            # A thread's parts go without the link card (which part would it belong to?).
            return self._thread(claim, channel, replace(post, link_card=None), texts, clock)

        if claim.recovering:
            settled = self._recover(claim, channel, post, now)
            if settled is not None:
                return settled
        if now > claim.deadline:
            return Outcome(OutcomeKind.EXPIRED, error="its deadline passed before it could go out")
        problems = channel.validate(post)
        if problems:
            return Outcome(OutcomeKind.FAILED, error="; ".join(problems))
        result = self._call(claim, channel, post, clock)
        return self._published(result) if isinstance(result, Receipt) else result

    def _call(
        self, claim: Claim, channel: Channel, post: OutboundPost, clock: Callable[[], datetime]
    ) -> Receipt | Outcome:
        """One call to the network: its receipt, or the outcome its failure leads to."""
        try:
            return channel.publish(post)
        except AuthError as exc:
            return Outcome(OutcomeKind.AUTH_BROKEN, error=_describe(exc))
        except RejectedError as exc:
            return Outcome(
                OutcomeKind.FAILED, error=f"rejected by {channel.name}: {_describe(exc)}"
            )
        except RateLimitedError as exc:
            return self._later(
                claim, clock(), _describe(exc), not_before=exc.retry_at, limited=True
            )
        except UnavailableError as exc:
            return self._later(claim, clock(), _describe(exc))
        except OutcomeUnknownError as exc:
            return self._after_lost_answer(claim, channel, post, clock(), _describe(exc))
        except CampaignSchedulerError as exc:  # e.g. a secret that cannot be read
            return Outcome(OutcomeKind.AUTH_BROKEN, error=exc.message)
        except Exception as exc:  # a bug in an adapter: the post may or may not exist
            log.exception("adapter %s failed unexpectedly", channel.name)
            return self._after_lost_answer(
                claim,
                channel,
                post,
                clock(),
                f"unexpected error in the {channel.name} adapter: {exc}",
            )

    def _thread(
        self,
        claim: Claim,
        channel: Channel,
        post: OutboundPost,
        texts: list[str],
        clock: Callable[[], datetime],
    ) -> Outcome:
        """Publish ``texts`` as a reply chain, recording each part as it goes out.

        The deadline applies to starting the thread: once its first part is out, the rest
        follows (half a thread is worse than a complete one a minute late). Each part has its
        own idempotency key, so a lost answer is settled per part like a single post.
        """
        done: list[dict[str, str | None]] = [dict(part) for part in claim.parts]
        if not done and clock() > claim.deadline and not claim.recovering:
            return Outcome(OutcomeKind.EXPIRED, error="its deadline passed before it could go out")
        for index in range(len(done), len(texts)):
            part = replace(
                post,
                text=texts[index],
                idempotency_key=part_key(claim.idempotency_key, index),
                media=post.media if index == 0 else (),
                reply_to=done[-1]["id"] if done else None,
            )
            if claim.recovering and index == len(claim.parts):
                settled = self._recover(claim, channel, part, clock())
                if settled is not None and settled.kind is not OutcomeKind.PUBLISHED:
                    return settled
                if settled is not None:
                    done.append({"id": settled.remote_id, "url": settled.remote_url})
                    self.progress(claim, done)
                    continue
            result = self._call(claim, channel, part, clock)
            if isinstance(result, Outcome):
                if done and result.kind is OutcomeKind.EXPIRED:
                    return Outcome(
                        OutcomeKind.UNKNOWN,
                        error=f"thread incomplete ({len(done)} of {len(texts)} parts out): "
                        f"{result.error}",
                    )
                return result
            done.append({"id": result.remote_id, "url": result.url})
            self.progress(claim, done)
        first = done[0]
        return Outcome(
            OutcomeKind.PUBLISHED,
            remote_id=first["id"],
            remote_url=first["url"],
            published_at=clock(),
            detail={"parts": len(done)},
        )

    @staticmethod
    def _published(receipt: Receipt, how: str | None = None) -> Outcome:
        return Outcome(
            OutcomeKind.PUBLISHED,
            remote_id=receipt.remote_id,
            remote_url=receipt.url,
            published_at=receipt.published_at,
            detail={"recovered_by": how} if how else {},
        )

    def _later(
        self,
        claim: Claim,
        now: datetime,
        error: str,
        *,
        not_before: datetime | None = None,
        limited: bool = False,
        label: str | None = None,
    ) -> Outcome:
        if not limited and claim.attempt_number >= self.retry.max_attempts:
            return Outcome(
                OutcomeKind.FAILED,
                error=f"gave up after {claim.attempt_number} attempts: {error}",
                attempt_label=label,
            )
        at = self.retry.next_attempt(now, claim.attempt_number, not_before=not_before, rng=self.rng)
        if at > claim.deadline:
            return Outcome(
                OutcomeKind.EXPIRED,
                error=f"the next try would be after its deadline: {error}",
                attempt_label=label,
            )
        kind = OutcomeKind.RATE_LIMITED if limited else OutcomeKind.RETRY
        return Outcome(kind, error=error, next_attempt_at=at, attempt_label=label)

    def _after_lost_answer(
        self, claim: Claim, channel: Channel, post: OutboundPost, now: datetime, error: str
    ) -> Outcome:
        action = recovery_action(
            now=now,
            key_first_used=claim.key_first_used,
            idempotency_window=channel.idempotency_window,
            can_look_up=channel.can_look_up,
        )
        if action is RecoveryAction.ASK_A_PERSON:
            return Outcome(
                OutcomeKind.UNKNOWN,
                error=f"{error}; {channel.name} cannot tell whether the post exists, "
                "check the account and run 'campaign resolve'",
            )
        # The next claim starts with recovery (replay or lookup), never with a fresh post.
        at = now + REPLAY_DELAY
        if at > claim.deadline and action is RecoveryAction.REPLAY_KEY and not channel.can_look_up:
            return Outcome(
                OutcomeKind.UNKNOWN,
                error=f"{error}; the deadline passed before the outcome could be settled",
            )
        return Outcome(
            OutcomeKind.RETRY, error=error, next_attempt_at=at, attempt_label="outcome unknown"
        )

    def _recover(
        self, claim: Claim, channel: Channel, post: OutboundPost, now: datetime
    ) -> Outcome | None:
        """Settle a delivery whose previous call has no known outcome.

        Returns the outcome, or None when it is certain that the post does not exist (or the
        same key may be replayed), so that publishing may proceed."""
        action = recovery_action(
            now=now,
            key_first_used=claim.key_first_used,
            idempotency_window=channel.idempotency_window,
            can_look_up=channel.can_look_up,
        )
        if action is RecoveryAction.REPLAY_KEY and now <= claim.deadline:
            log.info(
                "replaying the idempotency key of %s on %s", claim.post_key, claim.account_name
            )
            return None
        if channel.can_look_up:
            try:
                found = channel.look_up(post, since=claim.key_first_used - LOOKUP_SLACK)
            except ChannelError as exc:
                return self._later(
                    claim,
                    now,
                    f"lookup after a lost answer failed: {_describe(exc)}",
                    label="outcome unknown",
                )
            if found is not None:
                return self._published(found, how="lookup")
            if now > claim.deadline:
                return Outcome(
                    OutcomeKind.EXPIRED, error="not published, and its deadline has passed"
                )
            return None
        return Outcome(
            OutcomeKind.UNKNOWN,
            error=f"a worker stopped mid-call and {channel.name} cannot tell whether the post "
            "exists; check the account and run 'campaign resolve'",
        )
