"""Every audit event written by a command records the OS user as well as the actor.

``actor`` is who the command says acted (``--as NAME`` or the OS user); ``detail["os_user"]``
is the operating-system account that ran it, which no option changes. Stamped on insert, so
every command that writes an :class:`AuditEventRecord` through the ORM gets it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from campaign_scheduler.store.models import AuditEventRecord

OS_USER_KEY = "os_user"


@event.listens_for(AuditEventRecord, "before_insert")
def _stamp_os_user(_mapper: Any, _connection: Any, target: AuditEventRecord) -> None:
    from campaign_scheduler import identity

    detail = dict(target.detail or {})
    detail.setdefault(OS_USER_KEY, identity.os_user())
    target.detail = detail
