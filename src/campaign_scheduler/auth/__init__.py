"""Connecting accounts and keeping their tokens alive (issue 12).

* :mod:`.tokens` — :class:`~.tokens.TokenRecord` and the token store (OS keyring or a 0600
  secrets file); config.toml refers to a stored token as ``keyring:NAME``.
* :mod:`.base` — :class:`~.base.ConnectContext`, the :class:`~.base.ConnectFlow` protocol and
  :func:`~.base.flow_for` (a channel class names its flow in ``connect_flow``).
* :mod:`.oauth` — PKCE, the loopback redirect receiver and the browser-or-paste step.

Nothing here is imported by commands that do not connect or refresh accounts.
"""
