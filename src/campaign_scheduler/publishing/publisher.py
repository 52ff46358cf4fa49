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
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from campaign_scheduler.channels.base import Channel, MediaFile, OutboundPost, Receipt
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


class ChannelProvider(Protocol):
    def channel_for(self, account_name: str) -> Channel: ...


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
    ) -> None:
        self.channels = channels
        self.media_root = media_root
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
        return OutboundPost(
            text=claim.text,
            language=claim.language,
            idempotency_key=claim.idempotency_key,
            media=media,
        )

    def publish(self, claim: Claim, clock: Callable[[], datetime]) -> Outcome:
        """Run the protocol for one claimed delivery and return what to record."""
        now = clock()
        try:
            channel = self.channels.channel_for(claim.account_name)
        except CampaignSchedulerError as exc:
            return Outcome(OutcomeKind.AUTH_BROKEN, error=exc.message)
        post = self.outbound(claim)

        if claim.recovering:
            settled = self._recover(claim, channel, post, now)
            if settled is not None:
                return settled
        if now > claim.deadline:
            return Outcome(OutcomeKind.EXPIRED, error="its deadline passed before it could go out")
        problems = channel.validate(post)
        if problems:
            return Outcome(OutcomeKind.FAILED, error="; ".join(problems))
        try:
            receipt = channel.publish(post)
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
        return self._published(receipt)

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
