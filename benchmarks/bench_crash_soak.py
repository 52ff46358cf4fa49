"""Crash soak: kill a publishing worker with SIGKILL at random moments, then recover.

Each trial copies a small campaign database (three posts due, one of them a thread), starts
a worker process that publishes to a file-backed model network (each call pauses before and
after the network acts, and one call in five loses its answer), kills it with SIGKILL at a
random moment, and lets a second worker recover once the lease has run out. Then the record
is compared with the network:

* duplicates: more than one remote post for one idempotency key (one thread part);
* lost: the record and the network disagree (published but not there; out but recorded as
  waiting without knowing it, or as expired/failed/cancelled);
* unknown: deliveries handed to a person (``campaign resolve``), by network kind.

Three network kinds: with idempotency keys (and lookup, like Mastodon), with lookup only
(like Bluesky), with neither (like Telegram or a webhook).

    .venv/bin/python benchmarks/bench_crash_soak.py [--trials 35] [--seed 1]
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

DUE = datetime(2021, 11, 4, 8, 30, tzinfo=UTC)
KINDS = {"keys": (True, True), "lookup": (False, True), "neither": (False, False)}
LONG = " ".join(["Soest will bis 2030 eine klimaneutrale Smart City sein, gemeinsam."] * 12)


# -- the model network (shared by processes through a locked file) ----------------------------


class FileNetwork:
    def __init__(self, path: Path, dedupe: bool) -> None:
        self.path = path
        self.dedupe = dedupe

    def _locked(self, write: bool) -> tuple[int, list[dict[str, str]]]:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX if write else fcntl.LOCK_SH)
        with open(self.path, encoding="utf-8") as handle:
            return fd, [json.loads(line) for line in handle if line.strip()]

    def posts(self) -> list[dict[str, str]]:
        fd, posts = self._locked(write=False)
        os.close(fd)
        return posts

    def create(self, key: str, text: str) -> str:
        fd, posts = self._locked(write=True)
        try:
            if self.dedupe:
                for post in posts:
                    if post["key"] == key:
                        return post["id"]
            remote_id = str(len(posts) + 1)
            line = json.dumps({"key": key, "text": text, "id": remote_id}) + "\n"
            os.write(fd, line.encode())
            os.fsync(fd)
            return remote_id
        finally:
            os.close(fd)

    def find(self, key: str) -> str | None:
        for post in self.posts():
            if post["key"] == key:
                return post["id"]
        return None


def make_channel_class(kind: str) -> type:
    from campaign_scheduler.channels.base import Channel, OutboundPost, Receipt
    from campaign_scheduler.errors import OutcomeUnknownError

    keys, lookup = KINDS[kind]

    class SoakChannel(Channel):
        name = "mastodon"
        idempotency_window = timedelta(minutes=55) if keys else None
        can_look_up = lookup

        def __init__(self, network: FileNetwork, rng: random.Random) -> None:
            self.network = network
            self.rng = rng
            self.pause = threading.Event()

        def publish(self, post: OutboundPost) -> Receipt:
            post.checkpoint()
            self.pause.wait(self.rng.uniform(0, 0.05))
            remote_id = self.network.create(post.idempotency_key, post.text)
            self.pause.wait(self.rng.uniform(0, 0.05))
            if self.rng.random() < 0.2:
                raise OutcomeUnknownError("the answer was lost")
            return Receipt(remote_id, f"https://net.example/{remote_id}", DUE)

        def look_up(self, post: OutboundPost, *, since: datetime) -> Receipt | None:
            found = self.network.find(post.idempotency_key)
            return None if found is None else Receipt(found, f"https://net.example/{found}", DUE)

        def verify(self) -> str:
            return "soak"

    return SoakChannel


class Provider:
    def __init__(self, channel: object) -> None:
        self.channel = channel

    def channel_for(self, account_name: str) -> object:
        return self.channel


def make_worker(db: Path, net: Path, kind: str, clock: object, name: str, seed: int) -> object:
    from campaign_scheduler.publishing.daemon import Worker
    from campaign_scheduler.publishing.policy import RetryPolicy
    from campaign_scheduler.publishing.publisher import Publisher
    from campaign_scheduler.store.engine import open_store

    keys, _lookup = KINDS[kind]
    channel = make_channel_class(kind)(FileNetwork(net, dedupe=keys), random.Random(seed))
    publisher = Publisher(
        Provider(channel),  # type: ignore[arg-type]
        media_root=db.parent / "posts",
        retry=RetryPolicy(max_attempts=5),
    )
    store = open_store(f"sqlite:///{db}")
    return Worker(
        store,
        publisher,
        worker_id=name,
        lease=timedelta(seconds=30),
        threads=4,  # the daemon's lanes, as `campaign run` uses them
        clock=clock,  # type: ignore[arg-type]
    )


# -- one trial ---------------------------------------------------------------------------------


def child(db: Path, net: Path, kind: str, seed: int) -> None:
    """The worker that gets killed: publishes with a clock running from DUE."""
    started = time.monotonic()

    def clock() -> datetime:
        return DUE + timedelta(seconds=time.monotonic() - started)

    worker = make_worker(db, net, kind, clock, "doomed", seed)
    print("ready", flush=True)
    worker.tick()  # type: ignore[attr-defined]
    print("done", flush=True)


def recover(db: Path, net: Path, kind: str, seed: int) -> None:
    """A second worker, after the first one's lease ran out; time passes between ticks."""
    now = [DUE + timedelta(minutes=1)]
    worker = make_worker(db, net, kind, lambda: now[0], "rescuer", seed + 1)
    for _ in range(12):
        worker.tick()  # type: ignore[attr-defined]
        now[0] += timedelta(minutes=3)
    worker.store.dispose()  # type: ignore[attr-defined]


def verdict(db: Path, net: Path) -> Counter[str]:
    from sqlalchemy import select

    from campaign_scheduler.store.engine import open_store
    from campaign_scheduler.store.models import DeliveryRecord

    posts = FileNetwork(net, dedupe=False).posts()
    per_key = Counter(post["key"] for post in posts)
    result: Counter[str] = Counter()
    result["duplicates"] += sum(n - 1 for n in per_key.values() if n > 1)
    store = open_store(f"sqlite:///{db}")
    with store.session() as session:
        for delivery in session.scalars(select(DeliveryRecord)):
            key = delivery.idempotency_key
            out = [p for p in posts if p["key"] == key or p["key"].startswith(key + ".")]
            first = [p for p in posts if p["key"] == key]
            result[f"state {delivery.state}"] += 1
            waiting = delivery.state in ("pending", "retry_wait", "publishing")
            if (
                (
                    delivery.state == "published"
                    and (not first or first[0]["id"] != delivery.remote_id)
                )
                or (delivery.state in ("expired", "failed", "cancelled") and out)
                or (waiting and out and not (delivery.maybe_out or delivery.parts))
            ):
                result["lost"] += 1  # the record and the network disagree
            if delivery.state == "unknown":
                result["unknown"] += 1
                result["unknown, though nothing was out"] += 0 if out else 1
    store.dispose()
    return result


def template(folder: Path) -> Path:
    from campaign_scheduler.config import load_settings
    from campaign_scheduler.rules import check
    from campaign_scheduler.store.engine import open_store
    from campaign_scheduler.store.sync import load_campaign_into
    from conftest import CAMPAIGN_TOML, CONFIG_TOML, draft_text

    root = folder / "template"
    (root / "campaign").mkdir(parents=True)
    (root / "posts" / "soest").mkdir(parents=True)
    (root / "campaign" / "testlauf.toml").write_text(CAMPAIGN_TOML, encoding="utf-8")
    (root / "config.toml").write_text(CONFIG_TOML, encoding="utf-8")
    for name, body, extra in (
        ("01-klima", "Soest will bis 2030 klimaneutral werden. #5malklug", ""),
        ("02-lang", LONG + " #5malklug", "split = true\n"),
        ("03-rad", "Mit dem Lastenrad durch Soest. #5malklug", ""),
    ):
        text = draft_text(body, channels=("mastodon",), at="T-14d 09:30", extra=extra)
        (root / "posts" / "soest" / f"{name}.md").write_text(text, encoding="utf-8")
    store = open_store(f"sqlite:///{root / 'campaign.db'}")
    settings = load_settings(root / "config.toml")
    result = check(settings)
    assert result.campaign is not None
    load_campaign_into(
        store, result.campaign, result.drafts, result.deliveries, settings, actor="a"
    )
    store.dispose()
    return root


def trial(base: Path, run: Path, kind: str, seed: int, rng: random.Random) -> Counter[str]:
    shutil.copytree(base, run)
    db, net = run / "campaign.db", run / "network.jsonl"
    net.touch()
    process = subprocess.Popen(
        [sys.executable, __file__, "--child", str(db), str(net), kind, str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    process.stdout.readline()  # "ready": imports and database are open
    time.sleep(rng.uniform(0, 0.35))
    process.send_signal(signal.SIGKILL)
    finished = process.wait() == 0
    recover(db, net, kind, seed)
    result = verdict(db, net)
    result["killed before the end"] += 0 if finished else 1
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=35, help="trials per network kind")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        db, net, kind, seed = args.child
        child(Path(db), Path(net), kind, int(seed))
        return
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as folder:
        base = template(Path(folder))
        totals: dict[str, Counter[str]] = {}
        for kind in KINDS:
            total: Counter[str] = Counter()
            for n in range(args.trials):
                total += trial(
                    base, Path(folder) / f"{kind}-{n}", kind, rng.randrange(1 << 30), rng
                )
                shutil.rmtree(Path(folder) / f"{kind}-{n}")
            totals[kind] = total
    print(f"crash soak: {args.trials} SIGKILL trials per network kind, 3 deliveries each")
    header = f"{'network':<10} {'killed':>7} {'duplicates':>11} {'lost':>5} {'unknown':>8}"
    print(f"{header} {'(not out)':>10}  final states")
    for kind, total in totals.items():
        states = ", ".join(
            f"{k.removeprefix('state ')} {v}"
            for k, v in sorted(total.items())
            if k.startswith("state ")
        )
        print(
            f"{kind:<10} {total['killed before the end']:>7} {total['duplicates']:>11} "
            f"{total['lost']:>5} {total['unknown']:>8} "
            f"{total['unknown, though nothing was out']:>10}  {states}"
        )


if __name__ == "__main__":
    main()
