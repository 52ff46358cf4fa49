"""The database: models, engine and session set-up, migrations and queries."""

# The tables of store.attention belong to the same metadata (migrations compare against it).
from campaign_scheduler.store import attention as _attention  # noqa: F401

# Audit events written through the ORM record the OS user (store.audit).
from campaign_scheduler.store import audit as _audit  # noqa: F401
