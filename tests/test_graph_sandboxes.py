"""The Facebook, Instagram and Threads sandboxes' own contract, checked with plain HTTP
(channels.md §§5, 6, 9, "Fake server must"), so that adapter tests run against something that
answers like Meta's Graph hosts."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image

from campaign_scheduler.imagetypes import image_info
from campaign_scheduler.sandbox._graph import GraphSandbox, parse_fields
from campaign_scheduler.sandbox.facebook import FacebookSandbox
from campaign_scheduler.sandbox.instagram import InstagramSandbox
from campaign_scheduler.sandbox.threads import ThreadsSandbox

NOW = 1_900_000_000.0


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Client:
    """One account's view of a sandbox, speaking Graph with ``access_token`` parameters."""

    def __init__(
        self, sandbox: GraphSandbox, http: requests.Session, name: str, version: str
    ) -> None:
        self.sandbox = sandbox
        self.http = sandbox.mount(http)
        self.version = version
        self.id, self.token = sandbox.add_account(name)
        self.media = ""  # the media_base_url the sandbox serves for this client

    def url(self, path: str) -> str:
        return f"{self.sandbox.url}/{self.version}/{path}"

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.http.get(
            self.url(path), params={**params, "access_token": self.token}, timeout=5
        )

    def post(self, path: str, files: Any = None, **data: Any) -> requests.Response:
        body = {**data, "access_token": self.token}
        return self.http.post(self.url(path), data=body, files=files, timeout=5)

    def delete(self, path: str) -> requests.Response:
        return self.http.delete(self.url(path), params={"access_token": self.token}, timeout=5)


def error_of(response: requests.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert {"message", "type", "fbtrace_id"} <= set(error)
    return error


def png_bytes(size: tuple[int, int] = (40, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (1, 2, 3)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fb_sandbox(clock: Clock) -> Iterator[FacebookSandbox]:
    with FacebookSandbox(clock=clock).start_in_process() as server:
        yield server


@pytest.fixture
def ig_sandbox(clock: Clock, tmp_path: Path) -> Iterator[InstagramSandbox]:
    with InstagramSandbox(clock=clock).start_in_process() as server:
        yield server


@pytest.fixture
def th_sandbox(clock: Clock) -> Iterator[ThreadsSandbox]:
    with ThreadsSandbox(clock=clock).start_in_process() as server:
        yield server


@pytest.fixture
def page(fb_sandbox: FacebookSandbox, http: requests.Session) -> Client:
    return Client(fb_sandbox, http, "Stadt Soest", "v25.0")


@pytest.fixture
def media(tmp_path: Path) -> Path:
    folder = tmp_path / "media"
    folder.mkdir()
    (folder / "square.png").write_bytes(png_bytes((50, 50)))
    (folder / "wide.png").write_bytes(png_bytes((300, 100)))
    (folder / "note.txt").write_text("kein Bild", encoding="utf-8")
    return folder


@pytest.fixture
def ig(ig_sandbox: InstagramSandbox, http: requests.Session, media: Path) -> Client:
    client = Client(ig_sandbox, http, "stadt.soest", "v25.0")
    client.media = ig_sandbox.serve_media(media)
    return client


@pytest.fixture
def th(th_sandbox: ThreadsSandbox, http: requests.Session, media: Path) -> Client:
    client = Client(th_sandbox, http, "stadtmenden", "v1.0")
    client.media = th_sandbox.serve_media(media)
    return client


@pytest.fixture(params=["facebook", "instagram", "threads"])
def any_client(request: pytest.FixtureRequest) -> Client:
    fixture = {"facebook": "page", "instagram": "ig", "threads": "th"}[request.param]
    client: Client = request.getfixturevalue(fixture)
    return client


def create(client: Client, text: str = "Hallo #5malklug") -> requests.Response:
    """The post-creating call of each network (containers are made first where needed)."""
    if isinstance(client.sandbox, FacebookSandbox):
        return client.post(f"{client.id}/feed", message=text)
    client.sandbox.configure(container_polls=0)
    if isinstance(client.sandbox, InstagramSandbox):
        edge, publish = "media", "media_publish"
        container = client.post(
            f"{client.id}/{edge}",
            image_url=f"{client.media}/square.png",
            caption=text,
        ).json()["id"]
    else:
        edge, publish = "threads", "threads_publish"
        container = client.post(f"{client.id}/{edge}", media_type="TEXT", text=text).json()["id"]
    return client.post(f"{client.id}/{publish}", creation_id=container)


# --- common: tokens, envelope, versions, usage --------------------------------------------------


def test_token_errors_use_the_graph_envelope(any_client: Client, http: requests.Session) -> None:
    missing = http.get(f"{any_client.sandbox.url}/{any_client.version}/me", timeout=5)
    unknown = http.get(any_client.url("me"), params={"access_token": "EAAwrong"}, timeout=5)
    any_client.sandbox.revoke(any_client.token, subcode=463)
    revoked = any_client.get("me")

    assert [r.status_code for r in (missing, unknown, revoked)] == [400, 400, 400]
    assert error_of(missing)["code"] == 104
    assert (error_of(unknown)["code"], error_of(unknown)["type"]) == (190, "OAuthException")
    assert (error_of(revoked)["code"], error_of(revoked)["error_subcode"]) == (190, 463)


def test_auth_status_is_configurable(page: Client, http: requests.Session) -> None:
    page.sandbox.configure(auth_status=401)

    answer = http.get(page.url("me"), params={"access_token": "EAAwrong"}, timeout=5)

    assert answer.status_code == 401


def test_a_bearer_header_works_unless_switched_off(page: Client, http: requests.Session) -> None:
    headers = {"Authorization": f"Bearer {page.token}"}

    assert http.get(page.url("me"), headers=headers, timeout=5).json()["id"] == page.id
    page.sandbox.configure(accept_bearer=False)
    assert error_of(http.get(page.url("me"), headers=headers, timeout=5))["code"] == 104


def test_the_version_prefix_is_optional_and_recorded_without_the_token(
    page: Client, http: requests.Session
) -> None:
    unversioned = http.get(
        f"{page.sandbox.url}/me", params={"access_token": page.token, "fields": "name"}, timeout=5
    )
    page.get("me")

    assert unversioned.json() == {"id": page.id, "name": "Stadt Soest"}
    assert [r.version for r in page.sandbox.requests_seen] == [None, "v25.0"]
    assert all(page.token not in r.query for r in page.sandbox.requests_seen)
    assert page.sandbox.requests_seen[0].query == "fields=name"


def test_usage_headers_grow_with_the_calls(page: Client) -> None:
    page.sandbox.configure(buc_budget=10)

    first = page.get("me")
    for _ in range(3):
        last = page.get("me")

    app = json.loads(first.headers["X-App-Usage"])
    buc_first = json.loads(first.headers["X-Business-Use-Case-Usage"])[page.id][0]
    buc_last = json.loads(last.headers["X-Business-Use-Case-Usage"])[page.id][0]
    assert set(app) == {"call_count", "total_cputime", "total_time"}
    assert buc_first["type"] == "pages"
    assert (buc_first["call_count"], buc_last["call_count"]) == (10, 40)
    assert buc_last["estimated_time_to_regain_access"] == 0
    assert "X-Page-Usage" not in last.headers
    page.sandbox.configure(usage_headers=["x-page-usage"])
    assert set(json.loads(page.get("me").headers["X-Page-Usage"])) >= {"call_count"}


@pytest.mark.parametrize(
    ("fixture", "code", "kind"),
    [("page", 80001, "pages"), ("ig", 80002, "instagram"), ("th", 4, "threads")],
)
def test_a_used_up_call_budget_is_throttled_with_a_regain_time(
    request: pytest.FixtureRequest, clock: Clock, fixture: str, code: int, kind: str
) -> None:
    client: Client = request.getfixturevalue(fixture)
    client.sandbox.configure(buc_budget=2)
    client.get("me")
    clock.now += 3600
    client.get("me")

    throttled = client.get("me")

    assert throttled.status_code == 400
    assert error_of(throttled)["code"] == code
    usage = json.loads(throttled.headers["X-Business-Use-Case-Usage"])[client.id][0]
    assert usage["type"] == kind
    assert usage["estimated_time_to_regain_access"] == 23 * 60
    clock.now += 86400 - 3600
    assert client.get("me").status_code == 200


# --- common: fault switches ---------------------------------------------------------------------


def test_fail_next_answers_the_error_and_creates_nothing(any_client: Client) -> None:
    any_client.sandbox.fail_next(status=503)

    failed = create(any_client)

    assert failed.status_code == 503
    error = error_of(failed)
    assert (error["code"], error["is_transient"]) == (2, True)
    assert any_client.sandbox.statuses() == []
    assert create(any_client).status_code == 200


def test_rate_limit_next_names_the_wait_in_minutes(any_client: Client) -> None:
    any_client.sandbox.rate_limit_next(reset_in=61)

    limited = create(any_client)

    usage = json.loads(limited.headers["X-Business-Use-Case-Usage"])[any_client.id][0]
    assert usage["estimated_time_to_regain_access"] == 2
    assert error_of(limited)["code"] == any_client.sandbox.throttle_code
    assert any_client.sandbox.statuses() == []


def test_drop_after_create_creates_then_closes_the_connection(any_client: Client) -> None:
    any_client.sandbox.drop_after_create()

    with pytest.raises(requests.ConnectionError):
        create(any_client)

    assert len(any_client.sandbox.statuses()) == 1


def test_hold_after_create_answers_only_on_release(page: Client) -> None:
    held = page.sandbox.hold_after_create()
    answers: list[int] = []
    thread = threading.Thread(target=lambda: answers.append(create(page).status_code))
    thread.start()

    assert held.wait(5)
    assert answers == [] and len(page.sandbox.statuses()) == 1
    page.sandbox.release()
    thread.join(5)
    assert answers == [200]


def test_delay_creates_slows_only_the_creating_call(page: Client) -> None:
    page.sandbox.delay_creates = 60.0  # in-process: a call later than its timeout fails at once

    assert page.http.get(page.url("me"), params={"access_token": page.token}, timeout=1).ok
    with pytest.raises(requests.ReadTimeout):
        page.http.post(
            page.url(f"{page.id}/feed"),
            data={"message": "Hallo", "access_token": page.token},
            timeout=1,
        )
    assert len(page.sandbox.statuses()) == 1  # created all the same


# --- common: control over HTTP and served media -----------------------------------------------


def test_faults_accounts_config_and_media_over_http(
    page: Client, http: requests.Session, tmp_path: Path
) -> None:
    base = page.sandbox.url
    account = http.post(
        f"{base}/_sandbox/accounts", json={"name": "Olpe", "followers": 5}, timeout=5
    )
    faults = http.post(
        f"{base}/_sandbox/faults", json={"fail_next": {"status": 400, "code": 368}}, timeout=5
    )
    config = http.post(f"{base}/_sandbox/config", json={"refuse_duplicates": False}, timeout=5)
    served = http.post(
        f"{base}/_sandbox/media", json={"folder": str(tmp_path), "name": "olpe"}, timeout=5
    )

    assert account.status_code == faults.status_code == config.status_code == 200
    assert set(account.json()) == {"id", "token"}
    assert error_of(create(page))["code"] == 368
    assert page.sandbox.refuse_duplicates is False  # type: ignore[attr-defined]
    assert served.json() == {"url": f"{base}/_media/olpe"}
    post_id = create(page).json()["id"]
    assert http.get(f"{base}/_sandbox/statuses", timeout=5).json()[0]["id"] == post_id
    assert http.get(f"{base}/_sandbox/requests", timeout=5).json()[-1]["method"] == "POST"
    engagement = http.post(
        f"{base}/_sandbox/engagement", json={"post_id": post_id, "reactions": 3}, timeout=5
    )
    assert engagement.status_code == 200


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("faults", {"explode": True}, "unknown fault(s): explode"),
        ("config", {"no_such_switch": 1}, "unknown switch 'no_such_switch'"),
        ("config", {"buc_budget": "viel"}, "switch 'buc_budget' takes a int"),
        ("engagement", {"post_id": "1", "hugs": 1}, "unknown figure(s): hugs"),
    ],
)
def test_bad_control_requests_are_400(
    page: Client, http: requests.Session, path: str, body: dict[str, Any], message: str
) -> None:
    answer = http.post(f"{page.sandbox.url}/_sandbox/{path}", json=body, timeout=5)

    assert answer.status_code == 400
    assert message in answer.json()["error"]


def test_served_media_has_its_type_and_stays_inside_its_folder(
    ig: Client, http: requests.Session, media: Path
) -> None:
    base = ig.media

    image = http.get(f"{base}/square.png", timeout=5)
    outside = http.get(f"{base}/%2E%2E/%2E%2E/etc/passwd", timeout=5)
    unknown = http.get(f"{ig.sandbox.url}/_media/nobody/square.png", timeout=5)

    assert (image.status_code, image.headers["Content-Type"]) == (200, "image/png")
    assert outside.status_code == unknown.status_code == 404


def test_images_are_recognised_from_their_bytes() -> None:
    jpeg = io.BytesIO()
    Image.new("RGB", (64, 48)).save(jpeg, "JPEG")
    gif = io.BytesIO()
    Image.new("RGB", (5, 7)).save(gif, "GIF")

    assert image_info(jpeg.getvalue()) is not None
    assert (image_info(jpeg.getvalue()).width, image_info(jpeg.getvalue()).height) == (64, 48)  # type: ignore[union-attr]
    assert image_info(gif.getvalue()).content_type == "image/gif"  # type: ignore[union-attr]
    assert image_info(b"plain text") is None


def test_fields_are_split_at_top_level_commas() -> None:
    assert parse_fields("id,reactions.summary(total_count).limit(0),comments{id,from},shares") == {
        "id": "",
        "reactions": ".summary(total_count).limit(0)",
        "comments": "{id,from}",
        "shares": "",
    }


# --- Facebook -----------------------------------------------------------------------------------


def test_feed_posts_have_page_scoped_ids_and_readable_fields(page: Client) -> None:
    post_id = page.post(f"{page.id}/feed", message="Hallo", link="https://example.org/").json()[
        "id"
    ]

    entity = page.get(post_id, fields="id,message,created_time,permalink_url,from,link").json()

    assert post_id.startswith(f"{page.id}_")
    assert entity["message"] == "Hallo"
    assert entity["created_time"] == "2030-03-17T17:46:40+0000"
    assert entity["from"] == {"name": "Stadt Soest", "id": page.id}
    assert entity["link"] == "https://example.org/"
    assert entity["permalink_url"].startswith(page.sandbox.url)


@pytest.mark.parametrize(
    ("data", "code"),
    [({"message": " "}, 100), ({"message": "x" * 11}, 100), ({"link": "ftp://x"}, 100)],
)
def test_feed_refuses_empty_too_long_and_bad_links(
    page: Client, data: dict[str, str], code: int
) -> None:
    page.sandbox.configure(max_message_length=10)

    answer = page.post(f"{page.id}/feed", **data)

    assert (answer.status_code, error_of(answer)["code"]) == (400, code)


def test_duplicate_of_the_last_post_is_506_unless_switched_off(page: Client) -> None:
    page.post(f"{page.id}/feed", message="Gleich")

    duplicate = page.post(f"{page.id}/feed", message="Gleich")
    page.sandbox.configure(refuse_duplicates=False)

    assert error_of(duplicate)["code"] == 506
    assert page.post(f"{page.id}/feed", message="Gleich").status_code == 200


def test_unknown_fields_and_edges_are_refused(page: Client) -> None:
    post_id = page.post(f"{page.id}/feed", message="Hallo").json()["id"]

    field = page.get(post_id, fields="id,impressions")
    edge = page.get(f"{post_id}/likes_by_region")

    assert "nonexisting field (impressions) on node type (PagePost)" in error_of(field)["message"]
    assert error_of(edge)["code"] == 2500


def test_photos_answer_id_and_post_id_and_keep_alt_text(page: Client) -> None:
    answer = page.post(
        f"{page.id}/photos",
        files={"source": ("a.png", png_bytes(), "image/png")},
        caption="Foto",
        alt_text_custom="Ein Foto",
    ).json()
    page.sandbox.configure(photo_post_id=False)
    second = page.post(
        f"{page.id}/photos", files={"source": ("b.png", png_bytes(), "image/png")}, caption="Zwei"
    ).json()

    assert answer["post_id"] == f"{page.id}_{answer['id']}"
    photo = page.get(answer["id"], fields="id,alt_text_custom,page_story_id").json()
    assert photo == {
        "id": answer["id"],
        "alt_text_custom": "Ein Foto",
        "page_story_id": answer["post_id"],
    }
    assert set(second) == {"id"}


def test_unpublished_photos_are_attached_once(page: Client) -> None:
    photo = page.post(
        f"{page.id}/photos",
        files={"source": ("a.png", png_bytes(), "image/png")},
        published="false",
    ).json()["id"]
    attached = json.dumps([{"media_fbid": photo}])

    first = page.post(f"{page.id}/feed", message="Album", attached_media=attached)
    again = page.post(f"{page.id}/feed", message="Nochmal", attached_media=attached)
    not_an_image = page.post(f"{page.id}/photos", files={"source": ("x.png", b"text", "image/png")})

    assert first.status_code == 200
    assert [p.kind for p in page.sandbox.statuses()] == ["album"]
    assert error_of(again)["code"] == 100
    assert error_of(not_an_image)["code"] == 324


def test_feed_lists_visitor_posts_published_posts_does_not(page: Client, clock: Clock) -> None:
    assert isinstance(page.sandbox, FacebookSandbox)
    page.post(f"{page.id}/feed", message="Alt")
    clock.now += 60
    page.sandbox.add_visitor_post(page.id, "Besuch")
    clock.now += 60
    page.post(f"{page.id}/feed", message="Neu")

    feed = page.get(f"{page.id}/feed", fields="message").json()["data"]
    own = page.get(f"{page.id}/published_posts", fields="message").json()["data"]
    recent = page.get(f"{page.id}/feed", fields="message", since=int(NOW + 30)).json()["data"]

    assert [p["message"] for p in feed] == ["Neu", "Besuch", "Alt"]
    assert [p["message"] for p in own] == ["Neu", "Alt"]
    assert [p["message"] for p in recent] == ["Neu", "Besuch"]


def test_feed_pages_with_after_cursors(page: Client) -> None:
    for number in range(5):
        page.post(f"{page.id}/feed", message=f"Beitrag {number}")

    first = page.get(f"{page.id}/feed", limit=2, fields="message").json()
    second = page.get(
        f"{page.id}/feed", limit=2, fields="message", after=first["paging"]["cursors"]["after"]
    ).json()

    assert [p["message"] for p in first["data"]] == ["Beitrag 4", "Beitrag 3"]
    assert "next" in first["paging"]
    assert [p["message"] for p in second["data"]] == ["Beitrag 2", "Beitrag 1"]


def test_comments_and_their_counts(page: Client) -> None:
    post_id = page.post(f"{page.id}/feed", message="Beitrag").json()["id"]
    comment = page.post(f"{post_id}/comments", message="Kommentar").json()["id"]
    page.post(f"{comment}/comments", message="Antwort")

    direct = page.get(f"{post_id}/comments", fields="message").json()["data"]
    stream = page.get(f"{post_id}/comments", fields="message", filter="stream").json()["data"]
    counts = page.get(post_id, fields="comments.summary(total_count).limit(0)").json()

    assert [c["message"] for c in direct] == ["Kommentar"]
    assert [c["message"] for c in stream] == ["Kommentar", "Antwort"]
    assert counts["comments"]["summary"]["total_count"] == 1
    assert error_of(page.post("999_1/comments", message="x"))["error_subcode"] == 33


def test_insights_refuse_retired_metrics(page: Client) -> None:
    assert isinstance(page.sandbox, FacebookSandbox)
    post_id = page.post(f"{page.id}/feed", message="Beitrag").json()["id"]
    page.sandbox.set_engagement(post_id, reach=12, reactions=2)

    retired = page.get(f"{post_id}/insights", metric="post_impressions")
    valid = page.get(
        f"{post_id}/insights", metric="post_total_media_view_unique,post_reactions_by_type_total"
    ).json()["data"]

    assert error_of(retired)["message"] == "(#100) The value must be a valid insights metric"
    assert [(m["name"], m["values"][0]["value"]) for m in valid] == [
        ("post_total_media_view_unique", 12),
        ("post_reactions_by_type_total", {"like": 2}),
    ]


def test_delete_then_the_post_is_gone(page: Client) -> None:
    post_id = page.post(f"{page.id}/feed", message="Weg damit").json()["id"]

    assert page.delete(post_id).json() == {"success": True}
    gone = page.delete(post_id)
    assert (error_of(gone)["code"], error_of(gone)["error_subcode"]) == (100, 33)
    assert error_of(page.get(post_id))["error_subcode"] == 33


# --- Instagram ----------------------------------------------------------------------------------


def container(client: Client, name: str = "square.png", **data: Any) -> requests.Response:
    return client.post(f"{client.id}/media", image_url=f"{client.media}/{name}", **data)


def test_containers_are_in_progress_for_n_polls_then_finished_then_published(ig: Client) -> None:
    ig.sandbox.configure(container_polls=2)
    container_id = container(ig, caption="Hallo").json()["id"]

    early = ig.post(f"{ig.id}/media_publish", creation_id=container_id)
    states = [ig.get(container_id, fields="status_code,status").json() for _ in range(3)]
    published = ig.post(f"{ig.id}/media_publish", creation_id=container_id).json()["id"]
    after = ig.get(container_id, fields="status_code").json()["status_code"]
    again = ig.post(f"{ig.id}/media_publish", creation_id=container_id)

    assert (error_of(early)["code"], error_of(early)["error_subcode"]) == (9007, 2207027)
    assert [s["status_code"] for s in states] == ["IN_PROGRESS", "IN_PROGRESS", "FINISHED"]
    assert states[2]["status"].startswith("Finished")
    assert after == "PUBLISHED"
    assert error_of(again)["code"] == 100
    media = ig.get(published, fields="caption,timestamp,permalink,media_type").json()
    assert media["caption"] == "Hallo" and media["media_type"] == "IMAGE"


def test_containers_expire_after_a_day(ig: Client, clock: Clock) -> None:
    ig.sandbox.configure(container_polls=0)
    container_id = container(ig).json()["id"]
    clock.now += 86400

    status = ig.get(container_id, fields="status_code").json()["status_code"]
    refused = ig.post(f"{ig.id}/media_publish", creation_id=container_id)

    assert status == "EXPIRED"
    assert (error_of(refused)["code"], error_of(refused)["error_subcode"]) == (-2, 2207020)


def test_publishing_limit_is_consistent_with_publishes(ig: Client, clock: Clock) -> None:
    ig.sandbox.configure(container_polls=0, quota_total=1)
    first = container(ig).json()["id"]
    second = container(ig).json()["id"]

    before = ig.get(f"{ig.id}/content_publishing_limit", fields="quota_usage,config").json()
    ig.post(f"{ig.id}/media_publish", creation_id=first)
    after = ig.get(f"{ig.id}/content_publishing_limit").json()
    over = ig.post(f"{ig.id}/media_publish", creation_id=second)
    clock.now += 86400
    later = ig.get(f"{ig.id}/content_publishing_limit", fields="quota_usage").json()

    assert before == {
        "data": [{"quota_usage": 0, "config": {"quota_total": 1, "quota_duration": 86400}}]
    }
    assert after["data"][0]["quota_usage"] == 1
    assert (error_of(over)["code"], error_of(over)["error_subcode"]) == (9, 2207042)
    assert later == {"data": [{"quota_usage": 0}]}


@pytest.mark.parametrize(
    ("name", "switches", "code", "subcode"),
    [
        ("square.png", {"max_image_bytes": 100}, 36000, 2207004),
        ("wide.png", {}, 36003, 2207009),
        ("square.png", {"image_types": ["image/jpeg"]}, 9004, 2207052),
        ("note.txt", {}, 9004, 2207052),
        ("missing.png", {}, 9004, 2207052),
    ],
)
def test_images_are_downloaded_and_checked(
    ig: Client, name: str, switches: dict[str, Any], code: int, subcode: int
) -> None:
    ig.sandbox.configure(**switches)

    refused = container(ig, name)

    error = error_of(refused)
    assert (error["code"], error["error_subcode"]) == (code, subcode)


def test_without_fetching_any_http_url_is_taken_but_others_are_not(ig: Client) -> None:
    ig.sandbox.configure(fetch_media=False)

    taken = ig.post(f"{ig.id}/media", image_url="https://cdn.example/a.jpg")
    refused = ig.post(f"{ig.id}/media", image_url="file:///etc/passwd")

    assert taken.status_code == 200
    assert error_of(refused)["code"] == 9004


def test_caption_limits(ig: Client) -> None:
    ig.sandbox.configure(max_hashtags=5)

    refused = container(ig, caption=" ".join(f"#t{n}" for n in range(6)))

    assert error_of(refused)["message"] == "(#100) The caption has too many hashtags"


def test_carousels_need_two_to_ten_own_items(ig: Client) -> None:
    ig.sandbox.configure(container_polls=0)
    items = [container(ig, is_carousel_item="true").json()["id"] for _ in range(2)]
    plain = container(ig).json()["id"]

    too_few = ig.post(f"{ig.id}/media", media_type="CAROUSEL", children=items[0])
    not_items = ig.post(f"{ig.id}/media", media_type="CAROUSEL", children=f"{items[0]},{plain}")
    carousel = ig.post(
        f"{ig.id}/media", media_type="CAROUSEL", children=",".join(items), caption="K"
    )
    item_publish = ig.post(f"{ig.id}/media_publish", creation_id=items[0])
    published = ig.post(f"{ig.id}/media_publish", creation_id=carousel.json()["id"]).json()["id"]

    assert error_of(too_few)["code"] == error_of(not_items)["code"] == 100
    assert error_of(item_publish)["code"] == 100
    assert ig.get(published, fields="media_type").json()["media_type"] == "CAROUSEL_ALBUM"
    assert len(ig.get(f"{published}/children").json()["data"]) == 2


def test_media_insights_and_their_failure_modes(ig: Client) -> None:
    assert isinstance(ig.sandbox, InstagramSandbox)
    ig.sandbox.configure(container_polls=0)
    media_id = ig.post(f"{ig.id}/media_publish", creation_id=container(ig).json()["id"]).json()[
        "id"
    ]
    ig.sandbox.set_engagement(media_id, views=10, likes=2, saved=1)

    insights = ig.get(f"{media_id}/insights", metric="views,likes,total_interactions").json()[
        "data"
    ]
    retired = ig.get(f"{media_id}/insights", metric="impressions")
    ig.sandbox.configure(insights_available=False)
    few = ig.get(f"{media_id}/insights", metric="views")

    assert [(m["name"], m["values"][0]["value"]) for m in insights] == [
        ("views", 10),
        ("likes", 2),
        ("total_interactions", 3),
    ]
    assert "does not support the impressions metric" in error_of(retired)["message"]
    assert error_of(few) == {**error_of(few), "code": 10}


def test_instagram_delete_is_a_switch(ig: Client) -> None:
    ig.sandbox.configure(container_polls=0)
    media_id = ig.post(f"{ig.id}/media_publish", creation_id=container(ig).json()["id"]).json()[
        "id"
    ]

    refused = ig.delete(media_id)
    ig.sandbox.configure(allow_delete=True)

    assert error_of(refused)["code"] == 100 and "error_subcode" not in error_of(refused)
    assert ig.delete(media_id).json() == {"success": True}


# --- Threads ------------------------------------------------------------------------------------


def thread(client: Client, text: str, **data: Any) -> str:
    client.sandbox.configure(container_polls=0)
    container_id = client.post(f"{client.id}/threads", media_type="TEXT", text=text, **data)
    media_id: str = client.post(
        f"{client.id}/threads_publish", creation_id=container_id.json()["id"]
    ).json()["id"]
    return media_id


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"media_type": "TEXT"}, "(#100) The parameter text is required for TEXT posts"),
        ({"media_type": "TEXT", "text": "a" * 497 + "👍"}, "at most 500 characters"),
        ({"media_type": "REEL", "text": "x"}, "media_type must be TEXT, IMAGE, VIDEO or CAROUSEL"),
        ({"media_type": "VIDEO", "text": "x"}, "video_url is required for VIDEO posts"),
        ({"media_type": "TEXT", "text": "x", "reply_to_id": "1"}, "reply_to_id"),
        ({"media_type": "IMAGE"}, "image_url is required"),
    ],
)
def test_threads_containers_are_validated(th: Client, data: dict[str, str], message: str) -> None:
    refused = th.post(f"{th.id}/threads", **data)

    assert error_of(refused)["code"] == 100
    assert message in error_of(refused)["message"]


def test_threads_container_states_use_status_and_error_message(th: Client) -> None:
    assert isinstance(th.sandbox, ThreadsSandbox)
    th.sandbox.container_error_next(message="FAILED_PROCESSING_IMAGE")
    th.sandbox.configure(container_polls=1)
    failing = th.post(f"{th.id}/threads", media_type="IMAGE", image_url=f"{th.media}/square.png")

    states = [th.get(failing.json()["id"], fields="status,error_message").json() for _ in range(2)]

    assert [s["status"] for s in states] == ["IN_PROGRESS", "ERROR"]
    assert states[1]["error_message"] == "FAILED_PROCESSING_IMAGE"


def test_replies_have_their_own_edge_and_quota(th: Client) -> None:
    root = thread(th, "Wurzel")
    reply = thread(th, "Antwort", reply_to_id=root)

    top = th.get(f"{th.id}/threads", fields="text").json()["data"]
    replies = th.get(f"{th.id}/replies", fields="text,replied_to,root_post,is_reply").json()["data"]
    limits = th.get(
        f"{th.id}/threads_publishing_limit",
        fields="quota_usage,config,reply_quota_usage,reply_config",
    ).json()["data"][0]
    th.sandbox.configure(threads_edge_includes_replies=True)
    everything = th.get(f"{th.id}/threads", fields="text").json()["data"]

    assert [t["text"] for t in top] == ["Wurzel"]
    assert replies == [
        {
            "id": reply,
            "text": "Antwort",
            "replied_to": {"id": root},
            "root_post": {"id": root},
            "is_reply": True,
        }
    ]
    assert (limits["quota_usage"], limits["reply_quota_usage"]) == (1, 1)
    assert (limits["config"]["quota_total"], limits["reply_config"]["quota_total"]) == (250, 1000)
    assert len(everything) == 2


def test_threads_list_filters_by_since_and_until(th: Client, clock: Clock) -> None:
    thread(th, "Früh")
    clock.now += 600
    thread(th, "Spät")

    late = th.get(f"{th.id}/threads", fields="text", since=int(NOW + 300)).json()["data"]
    early = th.get(f"{th.id}/threads", fields="text", until=int(NOW + 300)).json()["data"]

    assert [t["text"] for t in late] == ["Spät"]
    assert [t["text"] for t in early] == ["Früh"]


def test_threads_insights_shape_is_a_switch(th: Client) -> None:
    media_id = thread(th, "Zahlen")
    th.sandbox.set_engagement(media_id, likes=3)

    values = th.get(f"{media_id}/insights", metric="likes").json()["data"][0]
    th.sandbox.configure(insights_shape="total_value")
    total = th.get(f"{media_id}/insights", metric="likes").json()["data"][0]
    followers = th.get(f"{th.id}/threads_insights", metric="followers_count").json()["data"][0]

    assert values["values"] == [{"value": 3}]
    assert total["total_value"] == {"value": 3}
    assert followers["total_value"] == {"value": 0}


def test_threads_delete_answers_the_id_and_has_a_daily_limit(th: Client) -> None:
    first, second = thread(th, "Eins"), thread(th, "Zwei")
    th.sandbox.configure(delete_limit=1)

    deleted = th.delete(first).json()
    limited = th.delete(second)

    assert deleted == {"success": True, "deleted_id": first}
    assert error_of(limited)["code"] == 4
    assert error_of(th.delete(first))["error_subcode"] == 33
