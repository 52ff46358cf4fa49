"""What the Facebook Page, Instagram and Threads adapters share: Meta's Graph API dialect.

All three speak the Graph API (channels.md §§5, 6, 9): versioned paths (``/v25.0/…``,
``/v1.0/…`` on Threads), the token as the ``access_token`` parameter, one error envelope
``{"error": {"message", "type", "code", "error_subcode", "is_transient", "fbtrace_id"}}``,
usage headers instead of rate-limit headers, cursor paging, and (Instagram, Threads) the
container → poll → publish flow. This module holds that dialect once:

* :class:`GraphApi` makes every call through :func:`~campaign_scheduler.channels._http.send`,
  puts the token in at the moment of use (form body for POST, query for GET and DELETE) and
  turns an error answer into one of our error classes:

  ==========================================  ==============================================
  code 190 (token invalid/expired), 102, 104  :class:`AuthError` (a person must renew the
  (no token), 3, 10, 200-299 (permission)     token or grant the permission)
  4, 17, 32, 341, 613, 80001-80014, 9         :class:`RateLimitedError`; ``retry_at`` from
  (publishing limit)                          ``estimated_time_to_regain_access`` (minutes)
                                              in a usage header, else ``Retry-After``, else
                                              15 minutes (an hour for a publishing quota)
  100 with subcode 33, 803 (no such object)   :class:`RejectedError` (not found)
  ``is_transient: true``, 2, -1, -2, 9007     :class:`UnavailableError`
  (media not ready yet), 1 (unknown error)    (1 on the call that creates the post:
                                              :class:`OutcomeUnknownError`, Meta does not
                                              say whether it acted)
  any other code: 100 (invalid parameter),    :class:`RejectedError`
  368 (blocked), 506 (duplicate), 36000 …
  no envelope: 401/403, 429, 404, other 4xx   Auth, RateLimited, Rejected, Rejected
  no envelope: 502/504 on the creating call,  :class:`OutcomeUnknownError`,
  other 5xx                                   :class:`UnavailableError`
  ==========================================  ==============================================

  A read timeout or dropped connection is an unknown outcome only on the call that creates
  the post; on every other call (reads, container creation, unpublished uploads) nothing can
  have been published, so it becomes :class:`UnavailableError`.
* :func:`wait_for_container`, :func:`check_publishing_quota` and :func:`publish_container`
  implement the container flow of Instagram and Threads.
* :func:`media_url` turns a local image into the public URL Meta downloads it from (the
  ``media_base_url`` account setting; see docs/meta-graph.md).

The token travels as a URL parameter on GET and DELETE (that is how Meta documents it); our
own messages never show a query string, and a log filter on urllib3 blanks ``access_token``
values in its debug lines, so the token reaches neither messages nor logs.
"""

from __future__ import annotations

import json
import logging
import re
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

from campaign_scheduler import errors
from campaign_scheduler.channels._http import (
    ApiClient,
    GoneError,
    json_or_none,
    logger_for,
    parse_time,
    reset_time,
)
from campaign_scheduler.channels.base import (
    AccountApi,
    AccountSettings,
    Channel,
    MediaFile,
    OutboundPost,
    Receipt,
)
from campaign_scheduler.timeutil import utcnow

if TYPE_CHECKING:
    import requests

#: The Graph API version used when an account sets no ``api_version``.
DEFAULT_GRAPH_VERSION = "v25.0"

#: The token itself is missing, invalid or expired.
TOKEN_CODES = frozenset({102, 104, 190})
AUTH_CODES = TOKEN_CODES | {3, 10, *range(200, 300)}
THROTTLE_CODES = frozenset({4, 9, 17, 32, 341, 613, *range(80001, 80015)})
TRANSIENT_CODES = frozenset({1, 2, -1, -2, 9007})
#: Subcodes that mean "the publishing quota of this account is used up" (Instagram, 24 h).
QUOTA_SUBCODES = frozenset({2207042})
#: Token subcodes worth explaining to a person.
TOKEN_SUBCODES = {
    458: "the app was removed from the account",
    459: "the account is checkpointed",
    460: "the password was changed",
    463: "the token has expired",
    464: "the user is not confirmed",
    467: "the token is invalid",
    492: "the session is invalid",
}

#: Wait this long after a throttling error that names no time.
DEFAULT_THROTTLE_WAIT = timedelta(minutes=15)
#: Wait this long when a publishing quota (a 24-hour moving window) is used up.
QUOTA_WAIT = timedelta(hours=1)
#: Usage headers above this percentage are logged as a warning.
USAGE_WARNING_PERCENT = 80
USAGE_HEADERS = ("X-App-Usage", "X-Business-Use-Case-Usage", "X-Page-Usage")

_TOKEN_IN_TEXT = re.compile(r"(access_token=)[^&\s\"']+")


class _RedactAccessToken(logging.Filter):
    """Blanks ``access_token=…`` in the request lines urllib3 logs at DEBUG level."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "access_token=" in record.msg:
            record.msg = _TOKEN_IN_TEXT.sub(r"\1…", record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                _TOKEN_IN_TEXT.sub(r"\1…", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        return True


def redact_access_tokens(logger_name: str) -> None:
    """Blank ``access_token=…`` in whatever the logger ``logger_name`` logs (once)."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, _RedactAccessToken) for f in logger.filters):
        logger.addFilter(_RedactAccessToken())


redact_access_tokens("urllib3.connectionpool")


# --- the error envelope and the usage headers -------------------------------------------------


@dataclass(frozen=True)
class GraphErrorBody:
    """The ``error`` object of a Graph answer."""

    message: str
    type: str | None
    code: int | None
    subcode: int | None
    is_transient: bool
    user_message: str | None
    fbtrace_id: str | None

    def describe(self) -> str:
        """The message, with the user-facing text when Meta gives one."""
        text = self.message
        if self.user_message and self.user_message not in text:
            text = f"{text} ({self.user_message})"
        return text


def read_error(response: requests.Response) -> GraphErrorBody | None:
    """The Graph error envelope of ``response``, or ``None`` when it has none."""
    body = json_or_none(response)
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    message = error.get("message")
    user_message = error.get("error_user_msg")
    trace = error.get("fbtrace_id")
    return GraphErrorBody(
        message=str(message) if message is not None else f"HTTP {response.status_code}",
        type=str(error["type"]) if isinstance(error.get("type"), str) else None,
        code=_int(error.get("code")),
        subcode=_int(error.get("error_subcode")),
        is_transient=error.get("is_transient") is True,
        user_message=str(user_message) if isinstance(user_message, str) else None,
        fbtrace_id=str(trace) if isinstance(trace, str) else None,
    )


@dataclass(frozen=True)
class Usage:
    """What the usage headers of one answer say."""

    #: The highest percentage (call_count, total_time, total_cputime) in any header.
    highest_percent: int
    #: The longest ``estimated_time_to_regain_access`` (minutes) in any header, if named.
    regain_minutes: float | None


def read_usage(headers: Mapping[str, str]) -> Usage | None:
    """Parse ``X-App-Usage``, ``X-Business-Use-Case-Usage`` and ``X-Page-Usage``.

    The first and last are one object of percentages; the business-use-case header maps an
    object id to a list of such objects, each with ``estimated_time_to_regain_access``.
    Unreadable headers are ignored. ``None`` when no header is there.
    """
    entries: list[dict[str, Any]] = []
    for name in USAGE_HEADERS:
        raw = headers.get(name)
        if not raw:
            continue
        try:
            value = json.loads(raw)
        except ValueError:
            logger_for("graph").warning("unreadable %s header", name)
            continue
        if not isinstance(value, dict):
            continue
        if name == "X-Business-Use-Case-Usage":
            for items in value.values():
                if isinstance(items, list):
                    entries.extend(item for item in items if isinstance(item, dict))
        else:
            entries.append(value)
    if not entries:
        return None
    highest = 0
    regain: float | None = None
    for entry in entries:
        for key in ("call_count", "total_time", "total_cputime"):
            number = _number(entry.get(key))
            if number is not None:
                highest = max(highest, int(number))
        minutes = _number(entry.get("estimated_time_to_regain_access"))
        if minutes is not None and minutes > 0:
            regain = minutes if regain is None else max(regain, minutes)
    return Usage(highest, regain)


def retry_at(response: requests.Response, now: datetime, *, quota: bool = False) -> datetime:
    """When to try again after a throttling answer (see the module doc)."""
    usage = read_usage(response.headers)
    if usage is not None and usage.regain_minutes is not None:
        return now + timedelta(minutes=usage.regain_minutes)
    after = reset_time(response.headers.get("Retry-After"), now, epoch=False)
    if after is not None:
        return after
    return now + (QUOTA_WAIT if quota else DEFAULT_THROTTLE_WAIT)


def error_for(
    response: requests.Response, *, where: str, creates: bool, now: datetime
) -> errors.ChannelError | None:
    """The error to raise for an error answer with a Graph error envelope (see the table in the
    module doc); ``None`` when it has none (:class:`GraphApi` reads it by the default ladder).
    ``where`` names account and call."""
    status = response.status_code
    body = read_error(response)
    if body is None:
        return None
    said = body.describe()
    code = body.code
    if code in AUTH_CODES:
        reason = TOKEN_SUBCODES.get(body.subcode or 0)
        return errors.AuthError(
            f"{where}: Meta refused the credentials"
            + (f" ({reason})" if reason else "")
            + f": {said}",
            network_message=said,
            hint="renew the account's access token or grant the missing permission "
            "(`campaign channels verify`)",
        )
    if code in THROTTLE_CODES:
        quota = body.subcode in QUOTA_SUBCODES
        when = retry_at(response, now, quota=quota)
        what = "publishing quota used up" if quota else "rate limited"
        return errors.RateLimitedError(
            f"{where}: {what} until {when.isoformat(timespec='seconds')}",
            retry_at=when,
            network_message=said,
        )
    if (code == 100 and body.subcode == 33) or code == 803:
        return GraphNotFoundError(f"{where}: not found: {said}", network_message=said)
    if body.is_transient or code in TRANSIENT_CODES or status >= 500:
        if creates and (
            (code == 1 and not body.is_transient) or (code is None and status in (502, 504))
        ):
            return errors.OutcomeUnknownError(
                f"{where}: Meta answered an unknown error; the post may exist",
                network_message=said,
            )
        return errors.UnavailableError(f"{where}: temporary failure: {said}", network_message=said)
    return errors.RejectedError(f"{where}: refused: {said}", network_message=said)


class GraphNotFoundError(GoneError):
    """The object does not exist (any more), or the token may not see it."""


# --- calls ------------------------------------------------------------------------------------


def api_version(value: object, default: str) -> str:
    """``"v25.0"`` from an account's ``api_version`` (``"25.0"``, ``"v25"``, ``"v25.0"``)."""
    if value is None or value == "":
        return default
    text = str(value).strip().lower().removeprefix("v")
    if not re.fullmatch(r"\d+(\.\d+)?", text):
        raise ValueError(f"api_version must look like v25.0, not {value!r}")
    return f"v{text}" if "." in text else f"v{text}.0"


class GraphApi(ApiClient):
    """Calls to one account's Graph host, with our error mapping. The token travels as the
    ``access_token`` parameter (query, or form body of a POST)."""

    gone = GraphNotFoundError

    #: The Graph API version called when the account names none (``api_version``).
    default_version = DEFAULT_GRAPH_VERSION

    def __init__(
        self,
        channel: str,
        account: AccountSettings,
        session: requests.Session,
        *,
        timeout: float = 30.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__(channel, account, session, timeout=timeout, clock=clock)
        try:
            self.version = api_version(account.settings.get("api_version"), self.default_version)
        except ValueError as exc:
            raise errors.ChannelError(
                f"{channel}: {account.name}: {exc}", hint="fix api_version in config.toml"
            ) from exc

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return self.json_object(self.call("GET", path, params=params))

    def post(
        self,
        path: str,
        data: Mapping[str, Any],
        *,
        files: Mapping[str, Any] | None = None,
        creates: bool = False,
    ) -> dict[str, Any]:
        """POST ``data`` as a form (multipart when ``files``). ``creates`` marks the one
        call that publishes the post."""
        return self.json_object(self.call("POST", path, data=data, files=files, creates=creates))

    def delete_gone(self, remote_id: str) -> None:
        """Delete ``remote_id``; one that is already gone counts as deleted."""
        try:
            self.call("DELETE", remote_id)
        except GraphNotFoundError:
            self.log.info("%s on %s was already gone", remote_id, self.account.name)

    def try_get(
        self, path: str, params: Mapping[str, Any] | None = None
    ) -> tuple[dict[str, Any] | None, GraphErrorBody | None]:
        """Like :meth:`get`, but a Graph error other than a token or throttling problem is
        returned instead of raised (metrics: an unsupported metric, a missing insights
        permission or "not enough viewers" is not a failure)."""
        response = self.send("GET", path, params=params)
        if response.status_code < 400:
            return self.json_object(response), None
        body = read_error(response)
        if body is None or body.code in TOKEN_CODES or body.code in THROTTLE_CODES:
            raise self.error(response, f"GET {path}", creates=False)
        return None, body

    def insights(self, object_id: str, metrics: Iterable[str]) -> dict[str, Any]:
        """``metrics`` of ``object_id``'s insights by name; none (logged) when Meta has none
        yet or will not give them."""
        answer, error = self.try_get(f"{object_id}/insights", {"metric": ",".join(metrics)})
        if error is not None:
            self.log.info("no insights for %s: %s", object_id, error.describe())
        return insight_values(answer) if answer is not None else {}

    def find_oldest_post(
        self,
        path: str,
        fields: str,
        *,
        text: str,
        since: datetime,
        text_field: str,
        time_field: str = "timestamp",
        url_field: str = "permalink",
        query: Mapping[str, Any] | None = None,
        list_since: bool = False,
        accept: Callable[[dict[str, Any]], bool] = lambda item: True,
    ) -> Receipt | None:
        """The receipt of the oldest item of the edge ``path`` (read with ``fields`` and
        ``query``) created since ``since`` less :data:`LOOK_UP_MARGIN` whose ``text_field``
        equals ``text`` and which ``accept`` takes (:func:`find_oldest_match`); with
        ``list_since`` the edge itself is asked for nothing older."""
        if since.tzinfo is None:
            raise ValueError("since must be an aware datetime")
        oldest = since - LOOK_UP_MARGIN
        params: dict[str, Any] = {"fields": fields, "limit": PAGE_SIZE, **(query or {})}
        if list_since:
            params["since"] = unix(oldest)
        found = find_oldest_match(
            self.pages(path, params, max_pages=LOOK_UP_MAX_PAGES),
            text=text,
            text_field=text_field,
            time_field=time_field,
            oldest=oldest,
            accept=accept,
        )
        if found is None:
            return None
        return receipt_of(self, found, url_field=url_field, time_field=time_field)

    def pages(
        self, path: str, params: Mapping[str, Any], *, max_pages: int
    ) -> Iterator[dict[str, Any]]:
        """Every item of a paged edge, newest first as Meta returns them; at most
        ``max_pages`` pages (the caller decides what running out means)."""
        query = dict(params)
        for _ in range(max_pages):
            page = self.get(path, query)
            data = page.get("data")
            if not isinstance(data, list):
                return
            yield from (item for item in data if isinstance(item, dict))
            paging = page.get("paging")
            after = None
            if isinstance(paging, dict) and paging.get("next"):
                cursors = paging.get("cursors")
                if isinstance(cursors, dict):
                    after = cursors.get("after")
            if not after or not data:
                return
            query["after"] = str(after)
        raise PageLimitError(f"{self.who}: more than {max_pages} pages in {path}")

    def network_error(
        self, response: requests.Response, said: str, where: str, *, creates: bool
    ) -> errors.ChannelError | None:
        return error_for(response, where=where, creates=creates, now=self.clock())

    def retry_at(self, response: requests.Response) -> datetime:
        return retry_at(response, self.clock())

    def send(  # type: ignore[override]
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        files: Mapping[str, Any] | None = None,
        creates: bool = False,
    ) -> requests.Response:
        """One Graph call: ``path`` under the API version, the token as ``access_token``."""
        token = self.secret()
        query = {k: _form(v) for k, v in (params or {}).items()}
        body = {k: _form(v) for k, v in (data or {}).items()}
        if method == "POST":
            body["access_token"] = token
        else:
            query["access_token"] = token
        kwargs: dict[str, Any] = {"params": query}
        if method == "POST":
            kwargs["data"] = body
            if files:
                kwargs["files"] = dict(files)
        path = f"/{self.version}/{path.lstrip('/')}"
        response = super().send(method, path, creates=creates, authenticate=False, **kwargs)
        usage = read_usage(response.headers)
        if usage is not None and usage.highest_percent >= USAGE_WARNING_PERCENT:
            self.log.warning(
                "%s is at %d%% of its Graph API call budget", self.who, usage.highest_percent
            )
        return response


class PageLimitError(errors.OutcomeUnknownError):
    """A lookup ran out of pages before it reached the time it searched back to."""


# --- the container flow (Instagram, Threads) ----------------------------------------------------


@dataclass(frozen=True)
class Polling:
    """How often and how long to ask whether a container is ready."""

    interval: float
    max_polls: int
    sleep: Callable[[float], None] = time.sleep


class GraphChannel(Channel):
    """A network on Graph (Facebook, Instagram, Threads): a Graph client, and a lookup after
    a lost answer (each reads its own edge)."""

    api = AccountApi(GraphApi)
    can_look_up = True


class ContainerChannel(GraphChannel):
    """What Instagram and Threads share: container polling, the user id."""

    #: Where and how this network keeps its containers.
    containers: ClassVar[ContainerDialect]

    def __init__(
        self,
        account: AccountSettings,
        session: requests.Session,
        *,
        poll_interval: float | None = None,
        max_polls: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
        **options: Any,
    ) -> None:
        super().__init__(account, session, **options)
        self.polling = Polling(
            self.containers.poll_interval if poll_interval is None else poll_interval,
            self.containers.max_polls if max_polls is None else max_polls,
            sleep,
        )

    def validate(self, post: OutboundPost) -> list[str]:
        """The problems of :meth:`Channel.validate`, then those of the media (how many, their
        public URLs)."""
        problems = super().validate(post)
        problems.extend(media_problems(self.account, post.media, self.name))
        return problems

    def _publish(
        self,
        params: dict[str, Any],
        children: list[dict[str, Any]],
        *,
        checkpoint: Callable[[], None] = lambda: None,
    ) -> Receipt:
        """Create the container (with ``children`` for a carousel), wait until it is ready,
        publish it and read the receipt; ``checkpoint()`` runs before every write."""
        user = self.user_id
        media_id = publish_container(
            self.api,
            edge=f"{user}/{self.containers.edge}",
            publish_edge=f"{user}/{self.containers.edge}_publish",
            params=params,
            children=children,
            dialect=self.containers,
            polling=self.polling,
            checkpoint=checkpoint,
        )
        receipt = read_receipt(self.api, media_id, url_field="permalink", time_field="timestamp")
        self.api.log.debug("published %s on %s", receipt.remote_id, self.account.name)
        return receipt

    @property
    def user_id(self) -> str:
        return self.setting("user_id")

    def delete(self, remote_id: str) -> None:
        """Delete the post; one that is already gone counts as deleted."""
        self.api.delete_gone(remote_id)


@dataclass(frozen=True)
class ContainerDialect:
    """Where a network keeps its containers, how it words their state, and how long it
    takes to make them ready."""

    #: Posts are created at ``{user}/{edge}`` and published at ``{user}/{edge}_publish``.
    edge: str
    status_field: str  # Instagram: "status_code", Threads: "status"
    detail_field: str  # Instagram: "status" (prose), Threads: "error_message"
    #: How often and how many times to ask whether a container is ready (unless the
    #: adapter is told otherwise).
    poll_interval: float
    max_polls: int


def wait_for_container(
    api: GraphApi, container_id: str, dialect: ContainerDialect, polling: Polling
) -> None:
    """Poll until the container is FINISHED; ERROR and EXPIRED are refusals, too many
    IN_PROGRESS answers are a temporary failure (nothing was published)."""
    fields = f"id,{dialect.status_field},{dialect.detail_field}"
    for attempt in range(max(polling.max_polls, 1)):
        if attempt:
            polling.sleep(polling.interval)
        state = api.get(container_id, {"fields": fields})
        status = str(state.get(dialect.status_field) or "").upper()
        detail = state.get(dialect.detail_field)
        if status == "FINISHED":
            return
        if status in ("ERROR", "EXPIRED"):
            said = str(detail) if detail else status
            raise errors.RejectedError(
                f"{api.who}: media container {container_id} is {status}: {said}",
                network_message=said,
                hint="check that media_base_url serves the image and that it meets the "
                "network's image rules",
            )
        if status == "PUBLISHED":
            raise errors.OutcomeUnknownError(
                f"{api.who}: container {container_id} was published by someone else's call"
            )
    raise errors.UnavailableError(
        f"{api.who}: media container {container_id} was still being processed after "
        f"{polling.max_polls} checks",
        hint="the post will be retried",
    )


def check_publishing_quota(
    api: GraphApi, path: str, *, usage_key: str, config_key: str, what: str
) -> None:
    """Raise :class:`RateLimitedError` when the publishing quota read from ``path`` is used
    up. A quota that cannot be read is not a reason to stop: the publish call would be
    refused anyway if the quota were exhausted."""
    try:
        answer = api.get(path, {"fields": f"{usage_key},{config_key}"})
    except (errors.AuthError, errors.RateLimitedError):
        raise
    except errors.ChannelError as exc:
        api.log.warning("%s: could not read the publishing quota: %s", api.who, exc.message)
        return
    data = answer.get("data")
    entry = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else {}
    used = _number(entry.get(usage_key))
    config = entry.get(config_key)
    total = _number(config.get("quota_total")) if isinstance(config, dict) else None
    if used is None or total is None or used < total:
        return
    when = api.clock() + QUOTA_WAIT
    raise errors.RateLimitedError(
        f"{api.who}: {what} quota used up ({int(used)} of {int(total)} in 24 hours); "
        f"trying again at {when.isoformat(timespec='seconds')}",
        retry_at=when,
        network_message=f"{usage_key}={int(used)}, quota_total={int(total)}",
    )


def publish_container(
    api: GraphApi,
    *,
    edge: str,
    publish_edge: str,
    params: Mapping[str, Any],
    children: Sequence[Mapping[str, Any]],
    dialect: ContainerDialect,
    polling: Polling,
    checkpoint: Callable[[], None] = lambda: None,
) -> str:
    """Create the container (and its carousel items first), wait until it is ready, publish
    it; return the published media id. Only the publish call can create the post.
    ``checkpoint()`` runs before every write (it raises when this worker may not go on)."""
    parent = dict(params)
    if children:
        child_ids = []
        for child in children:
            checkpoint()
            created = api.post(edge, {**child, "is_carousel_item": True})
            child_ids.append(_id(created, api.who, "carousel item container"))
        for child_id in child_ids:
            wait_for_container(api, child_id, dialect, polling)
        parent["media_type"] = "CAROUSEL"
        parent["children"] = ",".join(child_ids)
    checkpoint()
    container_id = _id(api.post(edge, parent), api.who, "media container")
    wait_for_container(api, container_id, dialect, polling)
    checkpoint()
    answer = api.post(publish_edge, {"creation_id": container_id}, creates=True)
    try:
        return _id(answer, api.who, "published media")
    except errors.UnavailableError as exc:
        raise errors.OutcomeUnknownError(
            f"{api.who}: container {container_id} was published but the answer names no media id",
            hint="the lookup after a lost answer finds it",
        ) from exc


def read_receipt(api: GraphApi, remote_id: str, *, url_field: str, time_field: str) -> Receipt:
    """A receipt for a post that certainly exists: its permalink and creation time are read,
    and if that read fails the receipt says so (no URL, now as the time) rather than
    raising, because raising would make the publisher think the post may not exist."""
    try:
        entity = api.get(remote_id, {"fields": f"id,{url_field},{time_field}"})
    except errors.ChannelError as exc:
        api.log.warning("%s: could not read %s after publishing: %s", api.who, remote_id, exc)
        return Receipt(remote_id=remote_id, url=None, published_at=api.clock())
    return receipt_of(api, {**entity, "id": remote_id}, url_field=url_field, time_field=time_field)


def receipt_of(
    api: GraphApi, entity: Mapping[str, Any], *, url_field: str, time_field: str
) -> Receipt:
    """The receipt an entity read from Graph (``id``, its URL and time fields) describes."""
    url = entity.get(url_field)
    return Receipt(
        remote_id=str(entity["id"]),
        url=url if isinstance(url, str) and url else None,
        published_at=parse_time(entity.get(time_field)) or api.clock(),
    )


# --- matching posts after a crash -----------------------------------------------------------


#: ``look_up`` searches posts created down to ``since`` minus this (clock skew).
LOOK_UP_MARGIN = timedelta(minutes=1)
#: ``look_up`` reads at most this many pages.
LOOK_UP_MAX_PAGES = 20
PAGE_SIZE = 50


def find_oldest_match(
    items: Iterator[dict[str, Any]],
    *,
    text: str,
    text_field: str,
    time_field: str,
    oldest: datetime,
    accept: Callable[[dict[str, Any]], bool] = lambda item: True,
) -> dict[str, Any] | None:
    """The oldest item created at or after ``oldest`` whose text equals ``text`` (up to
    whitespace and Unicode normalisation). ``items`` come newest first; reading stops at the
    first older item. A post published on purpose with the same text *before* ``oldest`` is
    therefore never taken for this one."""
    wanted = normalise(text)
    found = None
    for item in items:
        created = parse_time(item.get(time_field))
        if created is not None and created < oldest:
            break
        value = item.get(text_field)  # Graph leaves the field out when the text is empty
        if normalise(value if isinstance(value, str) else "") == wanted and accept(item):
            found = item  # keep going: the oldest match is the first attempt
    return found


def normalise(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def unix(moment: datetime) -> int:
    return int(moment.timestamp())


# --- media -----------------------------------------------------------------------------------


def media_url(account: AccountSettings, media: MediaFile) -> str:
    """The public URL Meta downloads ``media`` from.

    ``media_base_url`` is where the sender's ``media/`` folder is served; a file's path below
    its nearest ancestor folder named ``media`` is appended (a file outside any ``media``
    folder is addressed by its name alone). Raises :class:`RejectedError` without the
    setting.
    """
    base = account.settings.get("media_base_url")
    if not isinstance(base, str) or not base.strip():
        raise errors.RejectedError(
            f"{account.name}: images must be published from a public URL, and the account "
            "has no media_base_url",
            hint="set media_base_url of the account to where its media/ folder is served",
        )
    return f"{base.strip().rstrip('/')}/{quote(relative_media_path(media.path))}"


def relative_media_path(path: PurePath) -> str:
    """``path`` below its nearest ancestor named ``media``, with forward slashes."""
    parts = path.parts
    for index in range(len(parts) - 2, -1, -1):
        if parts[index] == "media":
            return "/".join(parts[index + 1 :])
    return path.name


def media_problems(
    account: AccountSettings, media: tuple[MediaFile, ...], network: str
) -> list[str]:
    """Reasons the images of a post cannot be handed to ``network`` as URLs."""
    problems = []
    if media and not str(account.settings.get("media_base_url") or "").strip():
        problems.append(
            f"{network} downloads images from a public URL: set media_base_url of account "
            f"{account.name}"
        )
    return problems


# --- small helpers ----------------------------------------------------------------------------


def _id(answer: Mapping[str, Any], who: str, what: str) -> str:
    value = answer.get("id")
    if not isinstance(value, str | int) or isinstance(value, bool) or not str(value):
        raise errors.UnavailableError(f"{who}: the answer names no id for the {what}")
    return str(value)


def _form(value: Any) -> Any:
    """Form values as Graph expects them: booleans as true/false, lists and dicts as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    return value


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    return None


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def insight_values(answer: Mapping[str, Any]) -> dict[str, Any]:
    """``{"data": [{"name", "values": [{"value"}]} | {"name", "total_value": {"value"}}]}``
    as name -> value (the lifetime value; the newest when there are several)."""
    result: dict[str, Any] = {}
    data = answer.get("data")
    if not isinstance(data, list):
        return result
    for entry in data:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            continue
        total = entry.get("total_value")
        values = entry.get("values")
        if isinstance(total, dict) and "value" in total:
            result[entry["name"]] = total["value"]
        elif isinstance(values, list) and values and isinstance(values[-1], dict):
            result[entry["name"]] = values[-1].get("value")
    return result


def find_by_permalink(
    api: GraphApi, edges: Iterable[str], code: str, *, url_field: str = "permalink"
) -> str | None:
    """The id of the account's own post among ``edges`` (newest first, at most
    ``LOOK_UP_MAX_PAGES`` pages each) whose permalink ends in the path segment ``code`` (an
    Instagram or Threads shortcode, a Facebook ``pfbid``); ``None`` when there is none."""
    for edge in edges:
        try:
            for item in api.pages(
                edge,
                {"fields": f"id,{url_field}", "limit": PAGE_SIZE},
                max_pages=LOOK_UP_MAX_PAGES,
            ):
                link = item.get(url_field)
                if isinstance(link, str) and code in _path_segments(link):
                    return str(item["id"])
        except PageLimitError:
            continue
    return None


def _path_segments(link: str) -> list[str]:
    from urllib.parse import unquote, urlsplit

    return [unquote(s) for s in urlsplit(link).path.split("/") if s]
