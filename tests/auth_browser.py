"""A stand-in for the person's browser in connect-flow tests.

``Browser(session)`` is an ``open_url`` for a :class:`ConnectContext`: it requests the
authorization address through ``session`` (where a sandbox's in-process transport is mounted),
takes the sandbox's auto-consent redirect and follows it with a real HTTP request to the
loopback :class:`RedirectReceiver`, as a browser would.
"""

from __future__ import annotations

import requests


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
