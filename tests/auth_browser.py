"""What the connect-flow tests share: a stand-in for the person's browser, a clock the sandbox
and the flow read together, and the :class:`ConnectContext` a flow runs in.

``Browser(session)`` is an ``open_url`` for a :class:`ConnectContext`: it requests the
authorization address through ``session`` (where a sandbox's in-process transport is mounted),
takes the sandbox's auto-consent redirect and follows it with a real HTTP request to the
loopback :class:`RedirectReceiver`, as a browser would.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import requests

from campaign_scheduler.auth.base import ConnectContext

NOW = 1_900_000_000.0


class Browser:
    def __init__(self, session: requests.Session) -> None:
        self.session = session
        self.visited: list[str] = []
        self.pages: list[tuple[int, str]] = []
        self.redirects: list[str] = []

    def __call__(self, url: str) -> bool:
        self.visited.append(url)
        consent = self.session.get(url, allow_redirects=False, timeout=30)
        assert consent.status_code in (302, 303), (consent.status_code, consent.text)
        location = consent.headers["Location"]
        self.redirects.append(location)
        with requests.Session() as loopback:
            page = loopback.get(location, timeout=30)
        self.pages.append((page.status_code, page.text))
        return True


class Paster:
    """A headless run: opens nothing; ``ask`` answers the paste prompt with the address the
    consent redirected to (what the person copies from the browser's address bar)."""

    def __init__(self, session: requests.Session, answers: dict[str, str] | None = None) -> None:
        self.session = session
        self.answers = answers or {}
        self.last_url: str | None = None
        self.prompts: list[tuple[str, bool]] = []

    def open_url(self, url: str) -> bool:
        self.last_url = url
        return False

    def ask(self, prompt: str, secret: bool = False) -> str:
        self.prompts.append((prompt, secret))
        for key, value in self.answers.items():
            if key in prompt:
                return value
        assert self.last_url is not None, prompt
        consent = self.session.get(self.last_url, allow_redirects=False, timeout=30)
        return str(consent.headers["Location"])


class Clock:
    """The sandbox's clock (seconds) and the flow's (an aware datetime), moved together."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now

    def utc(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)


def flow_context(
    channel: str,
    base_url: str,
    session: requests.Session,
    clock: Clock,
    answers: tuple[str, ...] = (),
    /,
    *,
    account_name: str = "",
    say: Callable[[str], None] = lambda line: None,
    options: dict[str, str] | None = None,
) -> ConnectContext:
    """The context of a flow for ``channel`` at ``base_url``: the browser consents at once, the
    person answers ``answers`` in turn, ``options`` stand for ``--option`` values."""
    pending = list(answers)
    return ConnectContext(
        account_name=account_name or f"soest-{channel}",
        channel=channel,
        base_url=base_url,
        settings={},
        session=session,
        clock=clock.utc,
        say=say,
        ask=lambda prompt, secret=False: pending.pop(0),
        open_url=Browser(session),
        options=dict(options or {}),
    )
