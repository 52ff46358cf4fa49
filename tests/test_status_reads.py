"""The Core-only reads (``campaign status``, a ``load`` that changes nothing) name the record's
columns as the models do."""

from __future__ import annotations

import pytest
from sqlalchemy import TableClause

from campaign_scheduler.store import status_reads, sync_reads
from campaign_scheduler.store.coretypes import UTCDateTime
from campaign_scheduler.store.models import Base


@pytest.mark.parametrize("tables", [status_reads.TABLES, sync_reads.TABLES], ids=["status", "load"])
def test_every_column_the_core_reads_name_exists_in_the_models_with_the_same_time_type(
    tables: tuple[TableClause, ...],
) -> None:
    for clause in tables:
        model = Base.metadata.tables[clause.name]
        for column in clause.c:
            assert column.name in model.c, f"{clause.name}.{column.name}"
            is_time = isinstance(model.c[column.name].type, UTCDateTime)
            assert isinstance(column.type, UTCDateTime) == is_time, f"{clause.name}.{column.name}"
