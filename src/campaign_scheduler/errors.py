"""The one exception hierarchy of campaign-scheduler.

Every error a user can cause or meet derives from :class:`CampaignSchedulerError`. It carries
a message for humans, an optional hint (what to do about it) and the exit code the CLI uses.
The CLI translates these once, at its edge, into a message on stderr without a traceback
(set ``CAMPAIGN_DEBUG=1`` to see the traceback).

::

    CampaignSchedulerError            exit 1
    ├── UsageError                    exit 2: a bad option or argument on the command line
    ├── InputError                    a file (campaign, draft, config) is invalid; carries problems
    │   └── ConfigError               config.toml or the environment is wrong
    │       └── MissingConfigError    there is no configuration at all (a first start)
    ├── SecretError                   an env:/file: secret reference cannot be resolved
    ├── AlertError                    an alert could not be sent to its notification URL
    ├── NotFoundError                 a post, account or campaign named by the user does not exist
    ├── StoreError                    the database cannot be opened or migrated
    │   └── ConflictError             a change would alter what is already published
    └── ChannelError                  a network refused or failed a call
        ├── AuthError                 credentials rejected: the account needs a person
        ├── RateLimitedError          too many calls; ``retry_at`` says when to try again
        ├── RejectedError             the network refused this post (permanent)
        ├── UnavailableError          the network failed before taking the post (retryable)
        └── OutcomeUnknownError       the call may or may not have created the post

This module imports only the standard library.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from campaign_scheduler.problems import Problem


class CampaignSchedulerError(Exception):
    """Base of every error campaign-scheduler reports to a user."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(CampaignSchedulerError):
    """A command-line option or argument is wrong (exit code 2)."""

    exit_code = 2


class InputError(CampaignSchedulerError):
    """Campaign, draft or config files are invalid; ``problems`` lists each one with its line."""

    def __init__(
        self,
        message: str,
        *,
        problems: Sequence[Problem] = (),
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.problems = list(problems)

    @classmethod
    def of(cls, problem: Problem, *, hint: str | None = None) -> Self:
        """The error of one problem: ``path:line: message``, in English for ``str(exc)`` and
        logs, said in the user's language where the command line shows it."""
        from campaign_scheduler.uilang import msg

        text = msg("{location}: {message}", location=problem.location(), message=problem.message)
        return cls(text, problems=[problem], hint=hint)


class ConfigError(InputError):
    """config.toml or a configuration variable in the environment is wrong."""


class MissingConfigError(ConfigError):
    """No config file was named or found: the user has not set up a campaign here yet."""


class SecretError(CampaignSchedulerError):
    """A secret reference (``env:NAME`` or ``file:PATH``) cannot be resolved.

    The message names the reference, never the secret's value.
    """


class AlertError(CampaignSchedulerError):
    """An alert could not be handed to its notification service (``[alerts] urls``).

    The message names the secret reference, never the notification URL (it holds secrets).
    """


class NotFoundError(CampaignSchedulerError):
    """Something the user named (post key, account, campaign) does not exist."""


class StoreError(CampaignSchedulerError):
    """The database cannot be reached, opened or migrated."""


class ConflictError(StoreError):
    """A change was refused because it would alter a delivery that is already out."""


class ChannelError(CampaignSchedulerError):
    """A social network refused or failed a call.

    ``retryable`` says whether trying again later can succeed; ``network_message`` keeps the
    network's own words for the record.
    """

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        network_message: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.network_message = network_message


class AuthError(ChannelError):
    """The network rejected the account's credentials (HTTP 401/403 or its own equivalent).

    Retrying cannot help until a person fixes the token; the account needs attention.
    """


class RateLimitedError(ChannelError):
    """The network asks us to slow down; ``retry_at`` (aware UTC) is when to try again."""

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        retry_at: datetime | None = None,
        network_message: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, network_message=network_message, hint=hint)
        self.retry_at = retry_at


class RejectedError(ChannelError):
    """The network refused this post for good (too long, invalid media, bad reply target)."""


class UnavailableError(ChannelError):
    """The network could not take the post now (5xx, connection refused): try again later.

    Raised only where the post was certainly not created.
    """

    retryable = True


class OutcomeUnknownError(ChannelError):
    """The request was sent but no answer came back (timeout, connection dropped).

    The post may exist. Recover by the network's idempotency key or by looking it up; never
    post again blindly.
    """

    retryable = True
