"""Four eyes that mean something: who may approve a post, checked against the record.

A post's *writers* are its author and everyone who created, queued or changed it, each both by
the name the command was given and by the OS user that ran it (the audit trail keeps both,
see :mod:`campaign_scheduler.store.audit`). No writer can approve it, whatever name they give:
the approving OS user and the approver's name are both compared with every writer. With
``rules.approvers`` only the listed names may approve.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select

from campaign_scheduler.errors import CampaignSchedulerError
from campaign_scheduler.store.audit import OS_USER_KEY
from campaign_scheduler.store.changes import _audit, _campaign, _post
from campaign_scheduler.store.engine import Store
from campaign_scheduler.store.models import AuditEventRecord
from campaign_scheduler.uilang import msg

#: Audit actions that write a post's content.
WRITING_ACTIONS = ("post.created", "post.changed", "post.queued")


class FourEyesError(CampaignSchedulerError):
    """Someone who wrote a post tried to approve it, or someone not allowed to approve did."""


def writers(store: Store, campaign_id: int, key: str, author: str) -> set[str]:
    """Every name and OS user that wrote or changed the post."""
    found = {author}
    with store.session() as session:
        for actor, detail in session.execute(
            select(AuditEventRecord.actor, AuditEventRecord.detail).where(
                AuditEventRecord.campaign_id == campaign_id,
                AuditEventRecord.post_key == key,
                AuditEventRecord.action.in_(WRITING_ACTIONS),
            )
        ):
            found.add(actor)
            if isinstance(detail, dict) and isinstance(detail.get(OS_USER_KEY), str):
                found.add(detail[OS_USER_KEY])
    return found


def approve(
    store: Store,
    slug: str,
    key: str,
    *,
    actor: str,
    os_user: str,
    approvers: Sequence[str] = (),
    now: datetime,
) -> str:
    """Approve the current version of a post as ``actor`` (run by ``os_user``); what was done,
    as a :func:`~campaign_scheduler.uilang.msg` (English, worded where it is shown)."""
    if approvers and actor not in approvers:
        raise FourEyesError(
            msg(
                "{actor} may not approve posts of this campaign (rules.approvers: {approvers})",
                actor=actor,
                approvers=", ".join(approvers),
            ),
            hint=msg("ask one of them to run 'campaign approve {key}'", key=key),
        )
    with store.session() as session:
        campaign = _campaign(session, slug)
        post = _post(session, campaign, key)
        campaign_id, author = campaign.id, post.author
    wrote = writers(store, campaign_id, key, author)
    if actor in wrote or os_user in wrote:
        who = (
            actor
            if actor in wrote
            else msg("{actor} (OS user {os_user})", actor=actor, os_user=os_user)
        )
        raise FourEyesError(
            msg(
                "{who} wrote or changed {key}; someone else must approve it (four eyes)",
                who=who,
                key=key,
            ),
            hint=msg(
                "ask a colleague to run 'campaign approve {key}' under their own login", key=key
            ),
        )
    with store.session(write=True) as session:
        campaign = _campaign(session, slug)
        post = _post(session, campaign, key)
        if post.approver is not None:
            return msg(
                "{key} (version {version}) was already approved by {approver}",
                key=key,
                version=post.version,
                approver=post.approver,
            )
        post.approver = actor
        post.approved_at = now
        _audit(
            session,
            now,
            actor,
            "post.approved",
            campaign,
            post,
            version=post.version,
            os_user=os_user,
        )
        return msg(
            "approved {key} (version {version}, written by {author})",
            key=key,
            version=post.version,
            author=post.author,
        )
